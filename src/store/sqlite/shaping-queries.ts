import { bucketTuple, type ShapingSql } from '../sql/shaping-dialect.js'
import { queryBuilder } from '../sql/query.js'

/**
 * The traffic-shaping statements of the SQLite store (see sql/shaping.ts). The clock is this
 * process's, read when a statement is built, just before it runs. Locking needs no SQL here: a
 * write transaction holds the whole database (BEGIN IMMEDIATE).
 */

const q = queryBuilder('?')
const now = () => Date.now()
const json = (value: unknown) => JSON.stringify(value)
const BUCKET = `bucket_key, tokens, updated_at, rate, throttled_at, scheduled_until`
/** A time in ms as the INTEGER columns hold it. */
const whole = (ms: number | null) => (ms === null ? null : Math.round(ms))

export const sqliteShaping: ShapingSql = {
  clock: () => q((p) => `SELECT ${p(now())} AS now`, 'clock'),

  lockRateBuckets: (keys) =>
    q(
      (p) => `SELECT ${BUCKET} FROM rate_buckets
        WHERE bucket_key IN (SELECT value FROM json_each(${p(json(keys))})) ORDER BY bucket_key`,
      'lockRateBuckets',
    ),

  createRateBuckets: (keys) =>
    q(
      (p) => `INSERT INTO rate_buckets (${BUCKET})
        SELECT value, 0, 0, NULL, NULL, NULL FROM json_each(${p(json(keys))}) WHERE true
        ON CONFLICT (bucket_key) DO NOTHING`,
    ),

  saveRateBuckets: (rows) =>
    q(
      (p) => `INSERT INTO rate_buckets (${BUCKET})
        SELECT value ->> '$[0]', value ->> '$[1]', value ->> '$[2]', value ->> '$[3]',
          value ->> '$[4]', value ->> '$[5]'
        FROM json_each(${p(json(rows.map(bucketTuple)))})
        WHERE true
        ON CONFLICT (bucket_key) DO UPDATE SET tokens = excluded.tokens,
          updated_at = excluded.updated_at, rate = excluded.rate,
          throttled_at = excluded.throttled_at, scheduled_until = excluded.scheduled_until`,
      'saveRateBuckets',
    ),

  rateBuckets: () =>
    q(
      (p) => `SELECT ${BUCKET}, ${p(now())} AS now FROM rate_buckets
        WHERE rate IS NOT NULL ORDER BY bucket_key`,
    ),

  deleteUpstreamReports: (worker) =>
    q(
      (p) =>
        `DELETE FROM upstream_reports WHERE worker = ${p(worker)} OR expires_at <= ${p(now())}`,
    ),

  insertUpstreamReports: ({ worker, reports, ttlMs }) =>
    q((p) => {
      const t = now()
      const rows = reports.map((r) => [
        r.upstream,
        r.down ? 1 : 0,
        r.downSinceAgoMs === null ? null : whole(t - r.downSinceAgoMs),
        r.misconfigured ? 1 : 0,
        r.lastError,
        r.lastErrorAgoMs === null ? null : whole(t - r.lastErrorAgoMs),
        r.connections,
      ])
      return `INSERT INTO upstream_reports (worker, upstream, down, down_since, misconfigured,
          last_error, last_error_at, connections, reported_at, expires_at)
        SELECT ${p(worker)}, value ->> '$[0]', value ->> '$[1]', value ->> '$[2]', value ->> '$[3]',
          value ->> '$[4]', value ->> '$[5]', value ->> '$[6]', ${p(t)}, ${p(t + ttlMs)}
        FROM json_each(${p(json(rows))}) WHERE true
        ON CONFLICT (worker, upstream) DO UPDATE SET down = excluded.down,
          down_since = excluded.down_since, misconfigured = excluded.misconfigured,
          last_error = excluded.last_error, last_error_at = excluded.last_error_at,
          connections = excluded.connections, reported_at = excluded.reported_at,
          expires_at = excluded.expires_at`
    }),

  upstreamReports: () =>
    q((p) => {
      const t = p(now())
      return `SELECT worker, upstream, down, down_since, misconfigured, last_error, last_error_at,
          connections, reported_at, ${t} AS now
        FROM upstream_reports WHERE expires_at > ${t} ORDER BY worker, upstream`
    }),

  upstreamActivity: (since) =>
    q(
      (p) => `SELECT upstream, outcome, count(*) AS n FROM attempts
        WHERE started_at >= ${p(since.getTime())} AND upstream IS NOT NULL
        GROUP BY upstream, outcome`,
    ),
}
