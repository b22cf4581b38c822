import type { RateLimit } from '../config/rate-limit.js'

/** A token bucket: `tokens` available as of `updatedAt` (ms). */
export interface TokenBucket {
  tokens: number
  updatedAt: number
}

/**
 * Takes one token from a bucket that refills at `limit.count` per `limit.perMs` and holds at
 * most `limit.count` (so a burst after idling is one period's worth). Pure: returns the new
 * bucket and how long to wait before the token is there (0 when it is there now).
 */
export function takeToken(
  bucket: TokenBucket,
  limit: RateLimit,
  now: number,
): { bucket: TokenBucket; waitMs: number } {
  const refill = ((now - bucket.updatedAt) * limit.count) / limit.perMs
  const tokens = Math.min(limit.count, bucket.tokens + Math.max(0, refill)) - 1
  const waitMs = tokens >= 0 ? 0 : Math.ceil((-tokens * limit.perMs) / limit.count)
  return { bucket: { tokens, updatedAt: now }, waitMs }
}

/** Paces sends to a rate shared by every worker of one Outbox. */
export interface RateLimiter {
  /** Resolves when a send may start; resolves early (returning false) if `signal` aborts. */
  acquire(signal?: AbortSignal): Promise<boolean>
}

export function createRateLimiter(limit: RateLimit | null): RateLimiter {
  if (!limit) return { acquire: async () => true }
  let bucket: TokenBucket = { tokens: limit.count, updatedAt: Date.now() }
  return {
    acquire(signal) {
      // Tokens go negative for waiters, so each caller is given its own slot in the future.
      const taken = takeToken(bucket, limit, Date.now())
      bucket = taken.bucket
      if (taken.waitMs === 0) return Promise.resolve(true)
      return new Promise<boolean>((resolve) => {
        // Every paced send waits on the worker's one stop signal: remove the listener when the
        // token comes, or they accumulate for the life of the worker.
        const onAbort = (): void => {
          clearTimeout(timer)
          bucket = { ...bucket, tokens: bucket.tokens + 1 }
          resolve(false)
        }
        const timer = setTimeout(() => {
          signal?.removeEventListener('abort', onAbort)
          resolve(true)
        }, taken.waitMs)
        signal?.addEventListener('abort', onAbort, { once: true })
      })
    },
  }
}
