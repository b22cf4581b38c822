import type { SubmissionSql } from '../sql/submission-dialect.js'
import { queryBuilder } from '../sql/query.js'
import { NOW, int, json, jsonRows } from './sql-parts.js'

const q = queryBuilder('?')

/** SQL submissions (`CALL <prefix>enqueue(…)`, migration 0006) in `prefix`'s tables. */
export function mariadbSubmissions(prefix: string): SubmissionSql {
  const S = `${prefix}submissions`
  return {
    takeSubmissions: (limit) =>
      q(
        () => `SELECT id, raw, mail_from, rcpt_to, priority, send_at, idempotency_key, tags,
          upstream, ignore_suppression
        FROM ${S} WHERE error IS NULL ORDER BY seq LIMIT ${int(limit)}
        FOR UPDATE SKIP LOCKED`,
        'take-submissions',
      ),
    // By the unique index on id, one lookup each (see tables.ts byIds on why never a scan).
    removeSubmissions: (ids) =>
      q(
        (p) => `DELETE s FROM ${jsonRows(p, ids)} j
          STRAIGHT_JOIN ${S} s FORCE INDEX (${prefix}submissions_id) ON s.id = j.v`,
      ),
    refuseSubmission: (id, reason) =>
      q((p) => `UPDATE ${S} SET error = ${p(reason)} WHERE id = ${p(id)}`),
    // Written only when it differs: workers starting together do not queue up on the row.
    configureSubmissions: ({ maxMessageSize, upstreams }) =>
      q((p) => {
        const names = json([...upstreams])
        return `UPDATE ${prefix}submission_settings
          SET max_message_size = ${p(maxMessageSize)}, upstreams = ${p(names)}, updated_at = ${NOW}
          WHERE one = 1 AND (max_message_size <> ${p(maxMessageSize)}
            OR NOT (upstreams <=> ${p(names)}))`
      }),
  }
}
