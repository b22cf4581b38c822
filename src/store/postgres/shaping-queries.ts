import type { ShapingSql } from '../sql/shaping-dialect.js'
import { queryBuilder } from '../sql/query.js'

/**
 * The traffic-shaping statements of the PostgreSQL store for one schema (see sql/shaping.ts).
 * Times are milliseconds of the database's clock: `clock_timestamp()`, the time when the
 * statement reads it (not `now()`, which is fixed when the transaction began, before its locks
 * were granted).
 */

const q = queryBuilder('$')
const NOW_MS = `(extract(epoch FROM clock_timestamp()) * 1000)::float8`
const BUCKET = `bucket_key, tokens, updated_at, rate, throttled_at, scheduled_until`

export function postgresShaping(s: string): ShapingSql {
  return {
    clock: () => q(() => `SELECT ${NOW_MS} AS now`, 'clock'),

    lockRateBuckets: (keys) =>
      q(
        (p) => `SELECT ${BUCKET} FROM ${s}.rate_buckets
          WHERE bucket_key = ANY(${p([...keys])}::text[]) ORDER BY bucket_key FOR UPDATE`,
        'lockRateBuckets',
      ),

    createRateBuckets: (keys) =>
      q(
        (p) => `INSERT INTO ${s}.rate_buckets (${BUCKET})
          SELECT k, 0, 0, NULL, NULL, NULL FROM unnest(${p([...keys])}::text[]) AS k ORDER BY k
          ON CONFLICT (bucket_key) DO NOTHING`,
      ),

    saveRateBuckets: (rows) =>
      q(
        (p) => `INSERT INTO ${s}.rate_buckets AS b (${BUCKET})
          SELECT * FROM unnest(${p(rows.map((r) => r.key))}::text[],
            ${p(rows.map((r) => r.tokens))}::float8[], ${p(rows.map((r) => r.updatedAt))}::float8[],
            ${p(rows.map((r) => r.rate))}::float8[], ${p(rows.map((r) => r.throttledAt))}::float8[],
            ${p(rows.map((r) => r.scheduledUntil))}::float8[])
          ON CONFLICT (bucket_key) DO UPDATE SET tokens = excluded.tokens,
            updated_at = excluded.updated_at, rate = excluded.rate,
            throttled_at = excluded.throttled_at, scheduled_until = excluded.scheduled_until`,
        'saveRateBuckets',
      ),

    rateBuckets: () =>
      q(
        () => `SELECT ${BUCKET}, ${NOW_MS} AS now FROM ${s}.rate_buckets
          WHERE rate IS NOT NULL ORDER BY bucket_key`,
      ),

    deleteUpstreamReports: (worker) =>
      q(
        (p) => `DELETE FROM ${s}.upstream_reports
          WHERE worker = ${p(worker)} OR expires_at <= ${NOW_MS}`,
      ),

    insertUpstreamReports: ({ worker, reports, ttlMs }) =>
      q(
        (p) => `INSERT INTO ${s}.upstream_reports (worker, upstream, down, down_since,
            misconfigured, last_error, last_error_at, connections, reported_at, expires_at)
          SELECT ${p(worker)}, r.upstream, r.down, c.now - r.down_ago, r.misconfigured,
            r.last_error, c.now - r.error_ago, r.connections, c.now, c.now + ${p(ttlMs)}::float8
          FROM unnest(${p(reports.map((r) => r.upstream))}::text[],
              ${p(reports.map((r) => r.down))}::boolean[],
              ${p(reports.map((r) => r.downSinceAgoMs))}::float8[],
              ${p(reports.map((r) => r.misconfigured))}::boolean[],
              ${p(reports.map((r) => r.lastError))}::text[],
              ${p(reports.map((r) => r.lastErrorAgoMs))}::float8[],
              ${p(reports.map((r) => r.connections))}::int[])
            AS r(upstream, down, down_ago, misconfigured, last_error, error_ago, connections),
            (SELECT ${NOW_MS} AS now) c`,
      ),

    upstreamReports: () =>
      q(
        () => `SELECT worker, upstream, down, down_since, misconfigured, last_error, last_error_at,
            connections, reported_at, c.now
          FROM ${s}.upstream_reports, (SELECT ${NOW_MS} AS now) c
          WHERE expires_at > c.now ORDER BY worker, upstream`,
      ),

    upstreamActivity: (since) =>
      q(
        (p) => `SELECT upstream, outcome, count(*)::int AS n FROM ${s}.attempts
          WHERE started_at >= ${p(since)} AND upstream IS NOT NULL
          GROUP BY upstream, outcome`,
      ),
  }
}
