import type { Logger } from '../logger.js'
import type { Store } from '../store/store.js'

/**
 * Moves up to `limit` submissions into the queue (the store's `takeSubmissions` with the
 * outbox's composing, telling its listeners of each message stored); resolves with how many it
 * took. Absent when the store has no SQL enqueue.
 */
export type TakeSubmissions = (limit: number) => Promise<number>

/** Most submissions moved into the queue in one transaction. */
const BATCH = 100
/** A look even without a notification (one lost while the LISTEN connection reconnected). */
const POLL_MS = 2_000
/**
 * Least time between two looks that found nothing: the store's wake-ups also come from every
 * other enqueue, and a busy queue must not pay one more query for each.
 */
const MIN_IDLE_LOOK_MS = 100
/** Most rounds of one drain (BATCH each): bounded, the rest waits for the next run. */
const MAX_DRAIN_ROUNDS = 10_000

/**
 * Moves mail enqueued with SQL (`outbox.enqueue()`) into the queue, beside each daemon worker:
 * at start, when the store says something was committed, and every POLL_MS. Several processes
 * may run it: each submission is locked by the one that takes it.
 */
export function startSubmissionIntake(deps: {
  store: Pick<Store, 'onEnqueue' | 'configureSubmissions'>
  take: TakeSubmissions | undefined
  settings: { maxMessageSize: number; upstreams: string[] }
  logger: Logger
}): { stop(): Promise<void> } {
  const { store, take, logger } = deps
  if (!take) return { stop: async () => undefined }
  let stopped = false
  let wake: (() => void) | null = null
  let woken = false
  const unsubscribe = store.onEnqueue(() => {
    woken = true
    wake?.()
  })
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms)
      function done() {
        clearTimeout(timer)
        wake = null
        resolve()
      }
      wake = done
    })

  const loop = (async () => {
    await store.configureSubmissions?.(deps.settings).catch((error: unknown) => {
      logger.warn(
        { err: (error as Error).message },
        'could not record the size limit and upstreams for outbox.enqueue(); it checks the previous ones',
      )
    })
    while (!stopped) {
      woken = false
      const lookedAt = Date.now()
      try {
        const taken = await take(BATCH)
        if (taken === BATCH) continue
      } catch (error) {
        logger.warn(
          { err: (error as Error).message },
          'could not move mail enqueued with SQL into the queue; will try again',
        )
      }
      if (stopped) break
      if (!woken) await pause(POLL_MS)
      const since = Date.now() - lookedAt
      if (!stopped && since < MIN_IDLE_LOOK_MS) {
        await new Promise((resolve) => setTimeout(resolve, MIN_IDLE_LOOK_MS - since))
      }
    }
  })()

  return {
    async stop() {
      stopped = true
      unsubscribe()
      wake?.()
      await loop
    },
  }
}

/** Moves every waiting submission into the queue now (for a one-shot drain). */
export async function drainSubmissions(take: TakeSubmissions | undefined): Promise<number> {
  if (!take) return 0
  let total = 0
  for (let round = 0; round < MAX_DRAIN_ROUNDS; round++) {
    const taken = await take(BATCH)
    total += taken
    if (taken < BATCH) break
  }
  return total
}
