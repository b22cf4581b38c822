import {
  MIN_RATE_PER_SEC,
  MIN_RATE_SHARE,
  RECOVERY_SHARE,
  THROTTLE_WINDOW_MS,
} from '../rate-bucket.js'
import type { RateChange, TokenRequest, UpstreamReport } from '../store.js'

/**
 * What the rate limit and upstream report scripts take, as JSON: times as ms, the constants of
 * rate-bucket.ts passed in so they are written once.
 */

/** The constants of rate-bucket.ts, as `adjust_rate` (scripts/rate-bucket.lua) reads them. */
export const RATE_CONSTANTS_JSON = JSON.stringify({
  minRateShare: MIN_RATE_SHARE,
  minRatePerSec: MIN_RATE_PER_SEC,
  throttleWindowMs: THROTTLE_WINDOW_MS,
  recoveryShare: RECOVERY_SHARE,
})

/** JSON writes Infinity as null: an unbounded wait travels as the largest number instead. */
const finite = (n: number) =>
  Number.isFinite(n) ? n : n > 0 ? Number.MAX_VALUE : -Number.MAX_VALUE

export function tokenRequestsJson(requests: readonly TokenRequest[]): string {
  return JSON.stringify(
    requests.map((r) => ({
      buckets: r.buckets.map((b) => ({ key: b.key, ratePerSec: b.ratePerSec })),
      maxWaitMs: finite(r.maxWaitMs),
    })),
  )
}

export function rateChangesJson(changes: readonly RateChange[]): string {
  return JSON.stringify(
    changes.map((c) => ({ key: c.key, ratePerSec: c.ratePerSec, throttled: c.throttled })),
  )
}

/** A worker's reports, kept by the script as sent (read back by `toWorkerReports`). */
export function reportsJson(reports: readonly UpstreamReport[]): string {
  return JSON.stringify(
    reports.map((r) => ({
      upstream: r.upstream,
      down: r.down,
      downSince: r.downSince?.getTime() ?? null,
      misconfigured: r.misconfigured,
      lastError: r.lastError,
      lastErrorAt: r.lastErrorAt?.getTime() ?? null,
      connections: r.connections,
    })),
  )
}
