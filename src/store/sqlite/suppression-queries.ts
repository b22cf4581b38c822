import { escapeLike } from '../sql/filter.js'
import { queryBuilder } from '../sql/query.js'
import type { SuppressionSql } from '../sql/suppression-dialect.js'

/** The suppression list and feedback statements of the SQLite store (see sql/suppressions.ts). */

const q = queryBuilder('?')
const now = () => Date.now()
const json = (value: unknown) => JSON.stringify(value)
const ENTRY = 'address, reason, reply, message_id, created_at'
const contains = (search: string) => `%${escapeLike(search)}%`

export const sqliteSuppressions: SuppressionSql = {
  findSuppressions: (addresses) =>
    q(
      (p) => `SELECT ${ENTRY} FROM suppressions
        WHERE address IN (SELECT value FROM json_each(${p(json(addresses))}))`,
      'findSuppressions',
    ),

  upsertSuppressions: (rows) =>
    q(
      (p) => `INSERT INTO suppressions (${ENTRY})
        SELECT value ->> '$[0]', value ->> '$[1]', value ->> '$[2]', value ->> '$[3]', ${p(now())}
        FROM json_each(${p(json(rows.map((r) => [r.address, r.reason, r.reply, r.messageId])))})
        WHERE true
        ON CONFLICT (address) DO UPDATE SET reason = excluded.reason, reply = excluded.reply,
          message_id = excluded.message_id, created_at = excluded.created_at`,
    ),

  deleteSuppressions: (addresses) =>
    q(
      (p) => `DELETE FROM suppressions
        WHERE address IN (SELECT value FROM json_each(${p(json(addresses))}))`,
    ),

  listSuppressions: ({ search, after, limit }) =>
    q(
      (p) => `SELECT ${ENTRY} FROM suppressions
        WHERE ${after === null ? 'true' : `address > ${p(after)}`}
          AND ${search === null ? 'true' : `address LIKE ${p(contains(search))} ESCAPE '\\'`}
        ORDER BY address LIMIT ${p(limit)}`,
    ),

  countSuppressions: (search) =>
    q(
      (p) => `SELECT count(*) AS n FROM suppressions
        ${search === null ? '' : `WHERE address LIKE ${p(contains(search))} ESCAPE '\\'`}`,
    ),

  settleSuppressed: ({ recipients, failMessages }) => {
    const t = now()
    return [
      q(
        (p) => `UPDATE recipients SET status = 'failed', reply = j.value ->> '$[2]',
            updated_at = ${p(t)}
          FROM json_each(${p(json(recipients.map((r) => [r.id, r.address, r.reply])))}) j
          WHERE recipients.message_id = j.value ->> '$[0]'
            AND recipients.address = j.value ->> '$[1]' AND recipients.status = 'pending'`,
      ),
      ...(failMessages.length === 0
        ? []
        : [
            q(
              (p) => `UPDATE messages SET status = 'failed', reason = 'suppressed',
                  last_error = j.value ->> '$[1]', due_at = NULL, finished_at = ${p(t)},
                  lease_owner = NULL, lease_expires_at = NULL, updated_at = ${p(t)}
                FROM json_each(${p(json(failMessages.map((m) => [m.id, m.error])))}) j
                WHERE messages.id = j.value ->> '$[0]'
                  AND messages.status IN ('queued', 'sending')`,
            ),
          ]),
    ]
  },

  findRecipient: (id, address) =>
    q(
      (p) => `SELECT address FROM recipients
        WHERE message_id = ${p(id)} AND address = ${p(address)} COLLATE NOCASE LIMIT 1`,
    ),

  recordFeedback: ({ id, address, kind, code, reply }) =>
    q(
      (p) => `UPDATE recipients SET feedback = ${p(kind)}, code = ${p(code)}, reply = ${p(reply)},
          updated_at = ${p(now())}
        WHERE message_id = ${p(id)} AND address = ${p(address)}`,
    ),
}
