import type { Logger } from '../logger.js'
import { comparePositions, type StoredEvent, type Store } from '../store/store.js'
import { postBatch, type WebhookOutcome } from './webhook-request.js'
import type { WebhookSetting } from './webhook-settings.js'
import {
  MAX_FAILURE_RANGES,
  readWebhookState,
  webhookBackoffMs,
  type EventRange,
  type WebhookState,
} from './webhook-state.js'

/**
 * Delivers the event log to the webhook endpoints, from the worker processes: at least once, in
 * log order (so in order per message), in batches. Each endpoint is a durable consumer of the
 * log leased to one process at a time; its position moves only after the receiver answered 2xx,
 * so a process that dies mid-request leaves the batch to whoever takes the endpoint over, which
 * sends it again with the same `webhook-id`. A failing batch is retried with backoff for the
 * endpoint's `retryFor` (24 h), then given up and recorded for `outbox webhooks retry`.
 */

/** Longest a delivered batch's new position goes unsaved while events keep coming. */
const SAVE_EVERY_MS = 500

/** The consumer name of an endpoint in the store. */
export const consumerName = (endpoint: string): string => `webhook:${endpoint}`

export interface WebhookDispatcherOptions {
  store: Store
  webhooks: readonly WebhookSetting[]
  /** This process's lease owner id. */
  owner: string
  logger: Logger
  /** How often an endpoint that is caught up looks for new events. @default 250 */
  pollMs?: number
  /** Lease on an endpoint, renewed while it is worked on. @default 30_000 */
  leaseMs?: number
  /** Deliver in the background until stopped; false: only when {@link WebhookDispatcher.flush} is called. @default true */
  background?: boolean
}

export interface WebhookDispatcher {
  /**
   * Delivers what is due now to every endpoint this process can lease, without waiting out a
   * backoff: `outbox.drain()` for cron jobs.
   */
  flush(): Promise<void>
  /** Stops: a request under way is let finish (or time out) and its outcome saved. */
  stop(): Promise<void>
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })

/** What one step of an endpoint did, for its loop. */
/**
 * What one step of an endpoint did, for its loop: `full` sent a whole batch (more may be
 * waiting: go on at once), `sent` a smaller one (wait a poll, so that the next is a batch rather
 * than the few events that came meanwhile).
 */
type Step = 'full' | 'sent' | 'idle' | 'waiting' | 'lost'

/** Makes sure every configured endpoint has a consumer, starting at the end of the log now. */
export async function registerWebhooks(
  store: Store,
  webhooks: readonly WebhookSetting[],
  owner: string,
): Promise<void> {
  if (webhooks.length === 0) return
  const known = new Set((await store.consumers()).map((c) => c.name))
  for (const endpoint of webhooks) {
    const name = consumerName(endpoint.name)
    if (known.has(name)) continue
    const consumer = await store.leaseConsumer({ name, owner, leaseMs: 10_000 })
    // Another process holds it: it exists already.
    if (!consumer) continue
    await store.saveConsumer({
      name,
      owner,
      cursor: consumer.cursor ?? (await store.eventPosition('end')) ?? '0',
      state: consumer.state,
      leaseMs: 0,
    })
  }
}

export function startWebhookDispatcher(options: WebhookDispatcherOptions): WebhookDispatcher {
  const { store, owner, logger } = options
  const pollMs = options.pollMs ?? 250
  const leaseMs = options.leaseMs ?? 30_000
  // Leased again this often: renews the lease and picks up an operator's retry request.
  const renewMs = Math.min(5000, leaseMs / 3)
  const stopping = new AbortController()
  const held = new Map<string, Held>()

  /** Saves an endpoint's place and state, extending its lease; false when the lease was lost. */
  async function save(name: string, h: Held, lease = leaseMs): Promise<boolean> {
    const saved = await store.saveConsumer({
      name,
      owner,
      cursor: h.cursor,
      state: { ...h.state },
      leaseMs: lease,
    })
    if (!saved || lease === 0) held.delete(name)
    else {
      h.leasedAt = h.savedAt = Date.now()
      h.dirty = false
    }
    return saved
  }

  /** The endpoint as this process holds it, leasing (or renewing) it when due; null when another holds it. */
  async function hold(name: string): Promise<Held | null> {
    const h = held.get(name)
    if (h && Date.now() - h.leasedAt < renewMs) return h
    if (h?.dirty && !(await save(name, h))) return null
    const consumer = await store.leaseConsumer({ name, owner, leaseMs })
    if (!consumer) {
      held.delete(name)
      return null
    }
    const fresh: Held = {
      cursor: consumer.cursor ?? (await store.eventPosition('end')) ?? '0',
      state: readWebhookState(consumer.state),
      retryRequests: consumer.retryRequests,
      leasedAt: Date.now(),
      savedAt: Date.now(),
      dirty: consumer.cursor === null,
    }
    held.set(name, fresh)
    return fresh
  }

  /** One endpoint: deliver one batch, or find nothing to do. */
  async function step(endpoint: WebhookSetting, ignoreBackoff: boolean): Promise<Step> {
    const name = consumerName(endpoint.name)
    const h = await hold(name)
    if (!h) return 'lost'
    const { state } = h
    if (h.retryRequests > state.retriesHandled) {
      // An operator asked: what was given up goes out again, before anything new.
      state.retriesHandled = h.retryRequests
      state.retrying.push(...state.failures)
      state.failures = []
      state.attempts = 0
      state.nextAttemptAt = null
      state.failingSince = null
      h.dirty = true
      logger.info(
        { webhook: endpoint.name, ranges: state.retrying.length },
        'webhook: sending again what was given up',
      )
    }
    if (!ignoreBackoff && state.nextAttemptAt && Date.parse(state.nextAttemptAt) > Date.now()) {
      return 'waiting'
    }

    // Which events: the batch under way, a range being retried, or what is new.
    let events: StoredEvent[]
    let range: { after: string | null; upTo: string }
    let cursorAfter: string | null
    const retrying = state.retrying[0]
    if (state.inFlight) {
      range = state.inFlight
      cursorAfter = state.inFlight.cursorAfter
      events = await eventsIn(endpoint, range)
    } else if (retrying) {
      events = await eventsIn(endpoint, retrying)
      range = {
        after: retrying.after,
        upTo: events.length === endpoint.batchSize ? events.at(-1)!.seq : retrying.upTo,
      }
      cursorAfter = null
    } else {
      const page = await store.readEvents({
        after: h.cursor,
        types: endpoint.events,
        limit: endpoint.batchSize,
      })
      if (page.events.length === 0) {
        // Caught up; the position (past what the filter skipped) is saved soon, not at every poll.
        if (page.cursor !== null && page.cursor !== h.cursor) {
          h.cursor = page.cursor
          h.dirty = true
        }
        if (h.dirty && Date.now() - h.savedAt >= SAVE_EVERY_MS && !(await save(name, h))) {
          return 'lost'
        }
        return 'idle'
      }
      events = page.events
      range = { after: h.cursor, upTo: events.at(-1)!.seq }
      cursorAfter = page.cursor
    }
    if (events.length === 0) {
      // The range's events were purged meanwhile: nothing left to send.
      finishRange(state, range, cursorAfter)
      if (cursorAfter !== null) h.cursor = cursorAfter
      state.inFlight = null
      return (await save(name, h)) ? 'sent' : 'lost'
    }

    // Kept as the batch under way: a retry sends the same events with the same webhook-id. It
    // is saved with the first failure; a process dying before that leaves the events after the
    // saved position to the next holder, which sends them again (at least once).
    state.inFlight ??= { ...range, cursorAfter }
    const outcome = await postBatch(endpoint, events)
    state.requests++
    logAttempt(endpoint, events.length, outcome, state.attempts + 1)
    const now = new Date().toISOString()
    if (outcome.ok) {
      state.delivered += events.length
      state.attempts = 0
      state.failingSince = null
      state.nextAttemptAt = null
      state.lastSuccessAt = now
      state.lastStatus = outcome.status
      finishRange(state, range, cursorAfter)
      if (cursorAfter !== null) h.cursor = cursorAfter
      state.inFlight = null
      h.dirty = true
      // While events stream in, the position is saved at most every SAVE_EVERY_MS (and at every
      // renewal and stop): each save is a commit, and a lost one only means events sent again.
      const sent = events.length >= endpoint.batchSize ? 'full' : 'sent'
      if (Date.now() - h.savedAt < SAVE_EVERY_MS) return sent
      return (await save(name, h)) ? sent : 'lost'
    }
    if (outcome.uncertain) state.uncertain++
    state.attempts++
    state.lastError = outcome.error
    state.lastErrorAt = now
    state.lastStatus = outcome.status
    state.failingSince ??= now
    if (Date.now() - Date.parse(state.failingSince) >= endpoint.retryForMs) {
      logger.error(
        {
          webhook: endpoint.name,
          events: events.length,
          attempts: state.attempts,
          err: outcome.error,
        },
        'webhook: gave up on a batch after retrying it; `outbox webhooks retry` sends it again',
      )
      finishRange(state, range, cursorAfter)
      giveUp(state, { ...range, events: events.length, error: outcome.error, at: now })
      if (cursorAfter !== null) h.cursor = cursorAfter
      state.inFlight = null
      state.attempts = 0
      state.failingSince = null
      state.nextAttemptAt = null
    } else {
      state.nextAttemptAt = new Date(
        Date.now() + webhookBackoffMs(state.attempts, Math.random()),
      ).toISOString()
    }
    return (await save(name, h)) ? 'waiting' : 'lost'
  }

  /** The endpoint's events in a range, in order (a batch is at most `batchSize`). */
  async function eventsIn(endpoint: WebhookSetting, range: { after: string | null; upTo: string }) {
    const page = await store.readEvents({
      after: range.after,
      types: endpoint.events,
      limit: endpoint.batchSize,
    })
    return page.events.filter((e) => comparePositions(e.seq, range.upTo) <= 0)
  }

  /** A range sent (or given up, or vanished): off the retry list, or its start moved, when it was from there. */
  function finishRange(
    state: WebhookState,
    range: { after: string | null; upTo: string },
    cursorAfter: string | null,
  ) {
    if (cursorAfter !== null) return
    const head = state.retrying[0]
    if (!head) return
    if (comparePositions(range.upTo, head.upTo) >= 0) state.retrying.shift()
    else state.retrying[0] = { ...head, after: range.upTo }
  }

  function giveUp(state: WebhookState, range: EventRange) {
    state.failures.push(range)
    if (state.failures.length > MAX_FAILURE_RANGES) {
      const dropped = state.failures.splice(0, state.failures.length - MAX_FAILURE_RANGES)
      logger.error(
        { ranges: dropped.length },
        `webhook: forgot the oldest given-up batches (more than ${MAX_FAILURE_RANGES})`,
      )
    }
  }

  function logAttempt(
    endpoint: WebhookSetting,
    count: number,
    outcome: WebhookOutcome,
    attempt: number,
  ) {
    const fields = {
      webhook: endpoint.name,
      events: count,
      attempt,
      status: outcome.status,
      ms: outcome.ms,
    }
    if (outcome.ok) logger.info(fields, 'webhook delivered')
    else
      logger.warn(
        { ...fields, err: outcome.error, uncertain: outcome.uncertain },
        'webhook attempt failed',
      )
  }

  async function loop(endpoint: WebhookSetting): Promise<void> {
    const name = consumerName(endpoint.name)
    while (!stopping.signal.aborted) {
      let result: Step
      try {
        result = await step(endpoint, false)
      } catch (error) {
        logger.warn(
          { webhook: endpoint.name, err: (error as Error).message },
          'webhook: store unavailable; trying again',
        )
        held.delete(name)
        result = 'waiting'
      }
      if (result === 'full') continue
      // Another process holds it: ask again well before its lease would expire.
      const wait =
        result === 'lost'
          ? Math.min(leaseMs / 3, 2000)
          : result === 'idle' || result === 'sent'
            ? pollMs
            : pollMs * 2
      await sleep(wait, stopping.signal)
    }
    // Hand the endpoint over at once rather than when its lease expires.
    const h = held.get(name)
    if (h) await save(name, h, 0).catch(() => false)
  }

  const loops =
    options.background === false ? [] : options.webhooks.map((endpoint) => loop(endpoint))

  return {
    async flush() {
      for (const endpoint of options.webhooks) {
        for (let round = 0; round < 10_000; round++) {
          const result = await step(endpoint, true).catch(() => 'lost' as const)
          if (result !== 'full' && result !== 'sent') break
        }
      }
    },
    async stop() {
      stopping.abort()
      await Promise.all(loops)
      // Endpoints flushed without a loop are handed over too.
      await Promise.all([...held].map(([name, h]) => save(name, h, 0).catch(() => false)))
    },
  }
}

/** An endpoint this process holds the lease of, as it last saved or changed it. */
interface Held {
  cursor: string
  state: WebhookState
  retryRequests: number
  /** When its lease was last taken or extended (this process's clock). */
  leasedAt: number
  /** When it was last saved. */
  savedAt: number
  /** Changed since it was saved. */
  dirty: boolean
}
