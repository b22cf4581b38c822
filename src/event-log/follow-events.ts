import type { EventType, Store, StoredEvent } from '../store/store.js'

/** Options of `outbox.events()`. */
export interface EventStreamOptions {
  /** Start after this position (an event's `seq`). Wins over `since`. */
  after?: string | null
  /** Start with the first event at or after this time. Without `after` and `since`: from the oldest kept, or, when following, from now. */
  since?: Date
  /** Only these types. */
  types?: readonly EventType[]
  /** Keep waiting for new events, like `tail -f`, until `signal` aborts. @default false */
  follow?: boolean
  /** Ends the iteration (at once, even while waiting). */
  signal?: AbortSignal
  /** How often a follower looks for new events. @default 200 */
  pollMs?: number
  /** Events read per round trip. @default 500 */
  pageSize?: number
}

const wait = (ms: number, signal: AbortSignal | undefined) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })

/**
 * The durable event log as an async iterator: every process's work, in log order, read from
 * the store. Without `follow` it ends at the end of the log as it was when reached.
 */
export async function* followEvents(
  store: Store,
  options: EventStreamOptions = {},
): AsyncGenerator<StoredEvent, void, undefined> {
  const { signal } = options
  const pollMs = options.pollMs ?? 200
  const limit = options.pageSize ?? 500
  let cursor: string | null =
    options.after !== undefined && options.after !== null
      ? options.after
      : options.since
        ? await store.eventPosition(options.since)
        : options.follow
          ? await store.eventPosition('end')
          : null
  // Bounded: a follower runs until aborted, but never spins without waiting.
  while (!signal?.aborted) {
    const page = await store.readEvents({
      after: cursor,
      limit,
      ...(options.types && options.types.length > 0 ? { types: options.types } : {}),
    })
    cursor = page.cursor
    for (const event of page.events) {
      if (signal?.aborted) return
      yield event
    }
    if (page.events.length === limit) continue
    if (!options.follow) return
    await wait(pollMs, signal)
  }
}
