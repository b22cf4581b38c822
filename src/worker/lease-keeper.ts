import type { Logger } from '../logger.js'
import type { Store } from '../store/store.js'

/** Keeps the leases of messages being worked on alive. */
export interface LeaseKeeper {
  track(id: string): void
  untrack(id: string): void
  /** Ids whose renewal found the lease lost (another worker took the message). */
  readonly lost: ReadonlySet<string>
  stop(): void
}

/**
 * Renews, every third of the lease, the lease of each tracked message, so that a slow upstream
 * never makes a healthy worker lose a message it is still sending, while a dead worker's
 * messages come free within one lease.
 */
export function createLeaseKeeper(
  store: Store,
  owner: string,
  leaseMs: number,
  logger: Logger,
): LeaseKeeper {
  const tracked = new Set<string>()
  const lost = new Set<string>()
  let renewing = false
  const timer = setInterval(
    () => {
      if (renewing || tracked.size === 0) return
      renewing = true
      const ids = [...tracked]
      store
        .renewLeases(owner, ids, leaseMs)
        .then((held) => {
          const still = new Set(held)
          for (const id of ids) {
            if (!still.has(id) && tracked.has(id)) {
              lost.add(id)
              logger.warn({ id }, 'lease lost: another worker took this message')
            }
          }
        })
        .catch((error: unknown) => {
          logger.error({ err: (error as Error).message }, 'could not renew leases; will retry')
        })
        .finally(() => {
          renewing = false
        })
    },
    Math.max(50, Math.floor(leaseMs / 3)),
  )
  timer.unref()
  return {
    track(id) {
      tracked.add(id)
    },
    untrack(id) {
      tracked.delete(id)
      lost.delete(id)
    },
    lost,
    stop() {
      clearInterval(timer)
      tracked.clear()
    },
  }
}
