import { bucketTuple, type ShapingSql } from '../sql/shaping-dialect.js'
import { queryBuilder } from '../sql/query.js'
import { NOW, json, jsonRows } from './sql-parts.js'

/**
 * The traffic-shaping statements of the MariaDB/MySQL store for one table prefix (see
 * sql/shaping.ts). Times are milliseconds of the database's clock ({@link NOW}: fixed when a
 * statement starts, so the clock is read by a statement of its own once the locks are held).
 */

const q = queryBuilder('?')
const BUCKET = `bucket_key, tokens, updated_at, rate, throttled_at, scheduled_until`
/** A time in ms as the BIGINT columns hold it. */
const whole = (ms: number | null) => (ms === null ? null : Math.round(ms))

export function mariadbShaping(prefix: string): ShapingSql {
  const B = `${prefix}rate_buckets`
  const U = `${prefix}upstream_reports`
  const A = `${prefix}attempts`

  return {
    clock: () => q(() => `SELECT ${NOW} AS now`, 'clock'),

    // Looked up by primary key in the order given (the engine sorts the keys), never scanned:
    // a scan in a locking read would wait for the locks of other keys' transactions.
    lockRateBuckets: (keys) =>
      q(
        (p) => `SELECT b.bucket_key, b.tokens, b.updated_at, b.rate, b.throttled_at,
            b.scheduled_until
          FROM ${jsonRows(p, keys, 'VARCHAR(255)')} j
            STRAIGHT_JOIN ${B} b FORCE INDEX (PRIMARY) ON b.bucket_key = j.v
          ORDER BY b.bucket_key FOR UPDATE`,
        'lockRateBuckets',
      ),

    // Not INSERT IGNORE: that would also turn a too-long key into a truncated one.
    createRateBuckets: (keys) =>
      q(
        (p) => `INSERT INTO ${B} (${BUCKET})
          SELECT j.v, 0, 0, NULL, NULL, NULL FROM ${jsonRows(p, keys, 'VARCHAR(255)')} j
          ON DUPLICATE KEY UPDATE bucket_key = VALUES(bucket_key)`,
      ),

    saveRateBuckets: (rows) =>
      q(
        (p) => `INSERT INTO ${B} (${BUCKET})
          SELECT j.bucket_key, j.tokens, j.updated_at, j.rate, j.throttled_at, j.scheduled_until
          FROM JSON_TABLE(${p(
            json(rows.map(bucketTuple)),
          )}, '$[*]' COLUMNS (bucket_key VARCHAR(255) PATH '$[0]', tokens DOUBLE PATH '$[1]',
            updated_at BIGINT PATH '$[2]', rate DOUBLE PATH '$[3]', throttled_at BIGINT PATH '$[4]',
            scheduled_until BIGINT PATH '$[5]')) j
          ON DUPLICATE KEY UPDATE tokens = VALUES(tokens), updated_at = VALUES(updated_at),
            rate = VALUES(rate), throttled_at = VALUES(throttled_at),
            scheduled_until = VALUES(scheduled_until)`,
        'saveRateBuckets',
      ),

    rateBuckets: () =>
      q(
        () => `SELECT ${BUCKET}, ${NOW} AS now FROM ${B}
          WHERE rate IS NOT NULL ORDER BY bucket_key`,
      ),

    deleteUpstreamReports: (worker) =>
      q((p) => `DELETE FROM ${U} WHERE worker = ${p(worker)} OR expires_at <= ${NOW}`),

    insertUpstreamReports: ({ worker, reports, ttlMs }) =>
      q(
        (p) => `INSERT INTO ${U} (worker, upstream, down, down_since, misconfigured, last_error,
            last_error_at, connections, reported_at, expires_at)
          SELECT ${p(worker)}, j.upstream, j.down, n.t - j.down_ago, j.misconfigured, j.last_error,
            n.t - j.error_ago, j.connections, n.t, n.t + ${p(Math.round(ttlMs))}
          FROM JSON_TABLE(${p(
            json(
              reports.map((r) => [
                r.upstream,
                r.down ? 1 : 0,
                whole(r.downSinceAgoMs),
                r.misconfigured ? 1 : 0,
                r.lastError,
                whole(r.lastErrorAgoMs),
                r.connections,
              ]),
            ),
          )}, '$[*]' COLUMNS (upstream VARCHAR(255) PATH '$[0]', down TINYINT PATH '$[1]',
            down_ago BIGINT PATH '$[2]', misconfigured TINYINT PATH '$[3]',
            last_error TEXT PATH '$[4]', error_ago BIGINT PATH '$[5]',
            connections INT PATH '$[6]')) j
            CROSS JOIN (SELECT ${NOW} AS t) n`,
      ),

    upstreamReports: () =>
      q(
        () => `SELECT worker, upstream, down, down_since, misconfigured, last_error, last_error_at,
            connections, reported_at, n.t AS now
          FROM ${U} CROSS JOIN (SELECT ${NOW} AS t) n
          WHERE expires_at > n.t ORDER BY worker, upstream`,
      ),

    upstreamActivity: (since) =>
      q(
        (p) => `SELECT upstream, outcome, COUNT(*) AS n FROM ${A}
          WHERE started_at >= ${p(since.getTime())} AND upstream IS NOT NULL
          GROUP BY upstream, outcome`,
      ),
  }
}
