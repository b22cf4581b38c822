import type { BucketRow } from '../rate-bucket.js'
import type { Query } from './driver.js'

/**
 * The statements of traffic shaping each SQL dialect supplies (see `shaping.ts` for what the
 * engine does with them): token buckets shared by every process, what workers report of their
 * upstreams, and attempts counted per upstream. Times are milliseconds of the store's clock.
 */
export interface ShapingSql {
  /** `now`: the store's clock in ms, read when the statement runs (after the locks before it). */
  clock(): Query
  /**
   * `bucket_key`, `tokens`, `updated_at`, `rate`, `throttled_at`, `scheduled_until` of the stored buckets among
   * `keys`, each locked until the transaction ends, in key order (so that two transactions
   * locking overlapping keys cannot deadlock). Keys not stored return no row.
   */
  lockRateBuckets(keys: readonly string[]): Query
  /** Stores a row for each key not stored yet, with rate NULL (it reads as a new bucket); leaves stored ones alone. */
  createRateBuckets(keys: readonly string[]): Query
  /** Writes these rows over the stored ones, by key. */
  saveRateBuckets(rows: readonly StoredBucket[]): Query
  /** The columns of {@link lockRateBuckets} of every bucket ever written (rate not NULL), and `now`. */
  rateBuckets(): Query

  /** Deletes the reports of `worker`, and every expired one. */
  deleteUpstreamReports(worker: string): Query
  /** Stores a worker's reports, reported now, expiring `ttlMs` from now. */
  insertUpstreamReports(input: {
    worker: string
    reports: readonly UpstreamReportRow[]
    ttlMs: number
  }): Query
  /**
   * `worker`, `upstream`, `down`, `down_since`, `misconfigured`, `last_error`, `last_error_at`,
   * `connections`, `reported_at` of every unexpired report, and `now`.
   */
  upstreamReports(): Query
  /** `upstream`, `outcome`, `n`: attempts started since `since` that recorded an upstream. */
  upstreamActivity(since: Date): Query
}

/** A bucket as the engine writes it back. */
export interface StoredBucket extends BucketRow {
  key: string
  rate: number
}

/**
 * A stored bucket as the JSON array the SQLite and MariaDB statements unpack, in the column
 * order `bucket_key, tokens, updated_at, rate, throttled_at, scheduled_until`; times in whole ms.
 */
export function bucketTuple(row: StoredBucket): (string | number | null)[] {
  const whole = (ms: number | null) => (ms === null ? null : Math.round(ms))
  return [
    row.key,
    row.tokens,
    whole(row.updatedAt),
    row.rate,
    whole(row.throttledAt),
    whole(row.scheduledUntil),
  ]
}

/** One upstream report as the dialect writes it; its times as durations before now (see the clock rule). */
export interface UpstreamReportRow {
  upstream: string
  down: boolean
  downSinceAgoMs: number | null
  misconfigured: boolean
  lastError: string | null
  lastErrorAgoMs: number | null
  connections: number
}
