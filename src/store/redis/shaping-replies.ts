import {
  FAILED_OUTCOMES,
  SENT_OUTCOMES,
  type AttemptOutcome,
  type RateBucketState,
  type TokenGrant,
  type UpstreamActivity,
  type WorkerUpstreamReport,
} from '../store.js'

/** What the rate limit and upstream report scripts return, as the contract's types. */

/** By code unit, as SQL's binary collation orders: the same order from every store. */
const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

/** `take-tokens`: {granted (0/1), waitMs, rates (text)} per request. */
export function toTokenGrants(rows: readonly unknown[][]): TokenGrant[] {
  return rows.map(([granted, waitMs, rates]) => ({
    granted: Number(granted) === 1,
    waitMs: Number(waitMs),
    rates: (rates as unknown[]).map(Number),
  }))
}

/** `rate-buckets`: {key, tokens, updated_at, rate, throttled_at or null} per bucket. */
export function toRateBuckets(rows: readonly unknown[][]): RateBucketState[] {
  return rows
    .map(([key, tokens, updatedAt, rate, throttledAt]) => ({
      key: String(key),
      rate: Number(rate),
      tokens: Number(tokens),
      updatedAt: new Date(Number(updatedAt)),
      throttledAt: throttledAt == null ? null : new Date(Number(throttledAt)),
    }))
    .sort((a, b) => byText(a.key, b.key))
}

/** A report as `reportsJson` (shaping-args.ts) wrote it. */
interface StoredReport {
  upstream: string
  down: boolean
  downSince: number | null
  misconfigured: boolean
  lastError: string | null
  lastErrorAt: number | null
  connections: number
}

const date = (ms: number | null) => (ms === null ? null : new Date(ms))

/** `upstream-reports`: {worker, {"t": reported at, "r": reports}} per worker. */
export function toWorkerReports(rows: readonly unknown[][]): WorkerUpstreamReport[] {
  return rows
    .flatMap(([worker, entry]) => {
      const { t, r } = JSON.parse(String(entry)) as { t: number; r: StoredReport[] }
      return r.map((report): WorkerUpstreamReport => ({
        ...report,
        downSince: date(report.downSince),
        lastErrorAt: date(report.lastErrorAt),
        worker: String(worker),
        reportedAt: new Date(t),
      }))
    })
    .sort((a, b) => byText(a.worker, b.worker) || byText(a.upstream, b.upstream))
}

/**
 * `upstream-activity`: {'<outcome>:<upstream>', n, …}, added up per upstream as
 * toActivityBuckets counts outcomes.
 */
export function toUpstreamActivity(pairs: readonly unknown[]): UpstreamActivity[] {
  const byUpstream = new Map<string, UpstreamActivity>()
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const field = String(pairs[i])
    const colon = field.indexOf(':')
    const outcome = field.slice(0, colon) as AttemptOutcome
    const upstream = field.slice(colon + 1)
    const n = Number(pairs[i + 1])
    let row = byUpstream.get(upstream)
    if (!row) {
      row = { upstream, sent: 0, deferred: 0, failed: 0 }
      byUpstream.set(upstream, row)
    }
    if (SENT_OUTCOMES.includes(outcome)) row.sent += n
    else if (FAILED_OUTCOMES.includes(outcome)) row.failed += n
    else row.deferred += n
  }
  return [...byUpstream.values()].sort((a, b) => byText(a.upstream, b.upstream))
}
