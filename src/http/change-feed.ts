import type { Logger } from '../logger.js'
import type { Outbox } from '../outbox.js'

/** Options of {@link createChangeFeed}. */
export interface ChangeFeedOptions {
  /** Least time between two notifications: a burst of mail is one refresh. */
  throttleMs: number
  /** How often the follower reads the log for new events. */
  pollMs: number
  /** Wait before following again after the log could not be read. */
  retryMs: number
  logger: Logger
}

/** Tells every subscriber, at most once per `throttleMs`, that the queue changed. */
export interface ChangeFeed {
  /** Returns a function that unsubscribes. */
  subscribe(listener: () => void): () => void
  /** Stops the follower and waits until it has (before the Outbox may be closed). */
  close(): Promise<void>
}

const wait = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true })
  })

/**
 * One follower of the durable event log for a whole server, shared by every open stream: the
 * work of any process on the store (another worker, a cron job's drain) shows at once, and a
 * hundred open dashboards cost one poll, not a hundred. It runs only while someone listens.
 */
export function createChangeFeed(outbox: Outbox, options: ChangeFeedOptions): ChangeFeed {
  const listeners = new Set<() => void>()
  let pending: NodeJS.Timeout | null = null
  let follower: { controller: AbortController; done: Promise<void> } | null = null
  let closed = false

  function notify(): void {
    pending ??= setTimeout(() => {
      pending = null
      for (const listener of listeners) listener()
    }, options.throttleMs)
  }

  async function follow(signal: AbortSignal): Promise<void> {
    // From the moment the first stream opened, not from wherever the log's end is once the
    // follower has found it: a change committed in between is not missed.
    let since = new Date()
    let warned = false
    while (!signal.aborted) {
      try {
        const events = outbox.events({ follow: true, since, signal, pollMs: options.pollMs })
        // Which event does not matter: any change is a refresh. Ends when `signal` aborts.
        while (!(await events.next()).done) {
          notify()
          warned = false
        }
      } catch (error) {
        if (signal.aborted) return
        if (!warned) {
          options.logger.warn(
            { err: (error as Error).message },
            'cannot follow the event log; live updates show only this process’s work until it can',
          )
          warned = true
        }
        // While the log is unreadable (or this store has none yet), this process's own work
        // still shows; the dashboard's timer covers the others. The next try reads from here,
        // so what other processes did meanwhile is announced once the log can be read again.
        since = new Date()
        const unsubscribe = outbox.observe(notify)
        await wait(options.retryMs, signal)
        unsubscribe()
      }
    }
  }

  function start(): void {
    const controller = new AbortController()
    follower = { controller, done: follow(controller.signal) }
  }

  async function stop(): Promise<void> {
    const running = follower
    follower = null
    if (pending) clearTimeout(pending)
    pending = null
    if (!running) return
    running.controller.abort()
    await running.done
  }

  return {
    subscribe(listener) {
      listeners.add(listener)
      if (!follower && !closed) start()
      return () => {
        listeners.delete(listener)
        if (listeners.size === 0) void stop()
      }
    },
    close() {
      closed = true
      return stop()
    },
  }
}
