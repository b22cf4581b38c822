import type { Logger } from '../logger.js'
import type { Store } from '../store/store.js'

/** How often a worker deletes events past their age. */
const PASS_MS = 3_600_000

/**
 * Deletes events older than `maxAgeMs` now and then, from each daemon worker (every worker
 * sharing a store may; the deletes are idempotent). Messages' events also go when the
 * messages are purged.
 */
export function startEventRetention(
  store: Store,
  maxAgeMs: number,
  logger: Logger,
): { stop(): void } {
  const pass = () => {
    Promise.resolve()
      .then(() => store.purgeEvents(new Date(Date.now() - maxAgeMs)))
      .then((n) => {
        if (n > 0) logger.info({ events: n }, 'deleted events older than their maximum age')
      })
      .catch((error: unknown) =>
        logger.warn(
          { err: (error as Error).message },
          'could not delete old events; will try again',
        ),
      )
  }
  const first = setTimeout(pass, 60_000)
  const timer = setInterval(pass, PASS_MS)
  first.unref()
  timer.unref()
  return {
    stop() {
      clearTimeout(first)
      clearInterval(timer)
    },
  }
}
