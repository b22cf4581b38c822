import type { RateBucketRef, TokenGrant } from './store.js'

/**
 * The arithmetic of the shared token buckets, written once: the SQL stores run it inside their
 * transaction (on rows read FOR UPDATE), and the Redis store's Lua mirrors it line for line
 * (scripts/rate-bucket.lua, `take_tokens` and `adjust_rate`). Pure; times in ms of the store's clock.
 *
 * A bucket refills at its current rate and holds at most one second's worth (at least one
 * token), so a provider's `14/s` is never exceeded by a burst after idling and a `100/m` is sent
 * evenly, not as 100 at once. Tokens go negative for reservations: a worker granted a token
 * 300 ms ahead sends in 300 ms, and the next asker (any process) is given the slot after it.
 */
export interface BucketRow {
  tokens: number
  updatedAt: number
  /** Current rate per second; null for a new bucket (then the configured rate). */
  rate: number | null
  throttledAt: number | null
  /**
   * The last turn handed to a refused request (ms, or null): refused sends are given back to
   * the queue due at turns spaced at the rate, one after another, across every process (store
   * it as a column `scheduled_until`, like the others). Without it a backlog of a limited
   * domain would be claimed and given back again and again, all due at the same moment.
   */
  scheduledUntil: number | null
}

/** The lowest a throttled rate is halved to, as a share of the configured one. */
export const MIN_RATE_SHARE = 1 / 64
/** And never below one message a minute. */
export const MIN_RATE_PER_SEC = 1 / 60
/** Throttling replies within this long of the last halving do not halve again (they are one burst). */
export const THROTTLE_WINDOW_MS = 1000
/** Each accepted delivery raises a throttled rate by this share of the configured one. */
export const RECOVERY_SHARE = 1 / 20

/** The rate a bucket runs at now: its stored rate, never above the configured one. */
export function currentRate(row: BucketRow | null, ratePerSec: number): number {
  if (!row || row.rate === null || !(row.rate > 0)) return ratePerSec
  return Math.min(row.rate, ratePerSec)
}

/** The bucket's tokens at `now`: refilled at its rate since `updatedAt`, capped at one second's worth. */
function refilled(row: BucketRow | null, rate: number, now: number): number {
  const capacity = Math.max(1, rate)
  if (!row) return capacity
  const elapsed = Math.max(0, now - row.updatedAt)
  return Math.min(capacity, row.tokens + (elapsed * rate) / 1000)
}

/**
 * One request against its buckets (`rows[i]` is the stored row of `buckets[i]`, or null): the
 * wait is the longest any bucket needs for one token; within `maxWaitMs` a token is taken from
 * every bucket, otherwise none. Returns the grant and the rows to store (unchanged when not
 * granted).
 */
export function takeFromBuckets(
  buckets: readonly RateBucketRef[],
  rows: readonly (BucketRow | null)[],
  maxWaitMs: number,
  now: number,
): { grant: TokenGrant; rows: BucketRow[] } {
  const rates = buckets.map((b, i) => currentRate(rows[i] ?? null, b.ratePerSec))
  const tokens = buckets.map((_, i) => refilled(rows[i] ?? null, rates[i]!, now))
  let waitMs = 0
  tokens.forEach((t, i) => {
    if (t < 1) waitMs = Math.max(waitMs, Math.ceil(((1 - t) * 1000) / rates[i]!))
  })
  const granted = waitMs <= maxWaitMs
  if (granted) {
    const next = buckets.map((_, i): BucketRow => ({
      tokens: tokens[i]! - 1,
      updatedAt: now,
      rate: rates[i]!,
      throttledAt: rows[i]?.throttledAt ?? null,
      scheduledUntil: rows[i]?.scheduledUntil ?? null,
    }))
    return { grant: { granted, waitMs, rates }, rows: next }
  }
  // Refused: each bucket that cannot serve within the wait hands out its next turn after the
  // last one it gave; the request comes back at the latest of them.
  let turnAt = now
  const next = buckets.map((_, i): BucketRow => {
    const row = rows[i] ?? null
    const rate = rates[i]!
    const ownWait = tokens[i]! < 1 ? Math.ceil(((1 - tokens[i]!) * 1000) / rate) : 0
    let scheduledUntil = row?.scheduledUntil ?? null
    if (ownWait > maxWaitMs) {
      const last = scheduledUntil !== null && scheduledUntil > now ? scheduledUntil : 0
      scheduledUntil = Math.max(now + ownWait, last + Math.ceil(1000 / rate))
      turnAt = Math.max(turnAt, scheduledUntil)
    }
    return {
      tokens: tokens[i]!,
      updatedAt: now,
      rate,
      throttledAt: row?.throttledAt ?? null,
      scheduledUntil,
    }
  })
  return { grant: { granted: false, waitMs: Math.max(waitMs, turnAt - now), rates }, rows: next }
}

/**
 * Additive increase, multiplicative decrease: a throttling reply halves the rate (once per
 * {@link THROTTLE_WINDOW_MS}: the replies to one burst are one signal), down to a floor; an
 * accepted delivery adds back {@link RECOVERY_SHARE} of the configured rate, up to it. Tokens
 * reserved ahead stay reserved; a lower rate makes the next ones wait longer.
 */
export function adjustBucketRate(
  row: BucketRow | null,
  ratePerSec: number,
  throttled: boolean,
  now: number,
): BucketRow {
  const rate = currentRate(row, ratePerSec)
  const tokens = refilled(row, rate, now)
  if (throttled) {
    if (row?.throttledAt != null && now - row.throttledAt < THROTTLE_WINDOW_MS) {
      return {
        tokens,
        updatedAt: now,
        rate,
        throttledAt: row.throttledAt,
        scheduledUntil: row.scheduledUntil,
      }
    }
    const floor = Math.max(ratePerSec * MIN_RATE_SHARE, Math.min(MIN_RATE_PER_SEC, ratePerSec))
    const halved = Math.max(floor, rate / 2)
    // A lower rate means a smaller bucket: what was saved up at the old rate is not spent at once.
    return {
      tokens: Math.min(tokens, Math.max(1, halved)),
      updatedAt: now,
      rate: halved,
      throttledAt: now,
      scheduledUntil: row?.scheduledUntil ?? null,
    }
  }
  const raised = Math.min(ratePerSec, rate + ratePerSec * RECOVERY_SHARE)
  return {
    tokens,
    updatedAt: now,
    rate: raised,
    throttledAt: row?.throttledAt ?? null,
    scheduledUntil: row?.scheduledUntil ?? null,
  }
}
