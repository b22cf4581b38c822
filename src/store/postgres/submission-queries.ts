import type { SubmissionSql } from '../sql/submission-dialect.js'
import { queryBuilder } from '../sql/query.js'

const q = queryBuilder('$')

/** SQL submissions (`outbox.enqueue()`, migration 0009) in schema `s` (quoted). */
export function postgresSubmissions(s: string): SubmissionSql {
  return {
    takeSubmissions: (limit) =>
      q(
        (p) => `SELECT id, raw, mail_from, rcpt_to, priority, send_at, idempotency_key, tags,
          upstream, ignore_suppression
        FROM ${s}.submissions WHERE error IS NULL ORDER BY seq LIMIT ${p(limit)}
        FOR UPDATE SKIP LOCKED`,
        'take-submissions',
      ),
    removeSubmissions: (ids) =>
      q((p) => `DELETE FROM ${s}.submissions WHERE id = ANY(${p([...ids])}::text[])`),
    refuseSubmission: (id, reason) =>
      q((p) => `UPDATE ${s}.submissions SET error = ${p(reason)} WHERE id = ${p(id)}`),
    // Written only when it differs: workers starting together do not queue up on the row.
    configureSubmissions: ({ maxMessageSize, upstreams }) =>
      q(
        (p) => `UPDATE ${s}.submission_settings
        SET max_message_size = ${p(maxMessageSize)}, upstreams = ${p([...upstreams])}::text[],
          updated_at = now()
        WHERE max_message_size IS DISTINCT FROM ${p(maxMessageSize)}
          OR upstreams IS DISTINCT FROM ${p([...upstreams])}::text[]`,
      ),
  }
}
