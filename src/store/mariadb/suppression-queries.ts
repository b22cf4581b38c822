import { escapeLike } from '../sql/filter.js'
import { queryBuilder } from '../sql/query.js'
import type { SuppressionSql } from '../sql/suppression-dialect.js'
import { NOW, inList, int } from './sql-parts.js'

/**
 * The suppression list and feedback statements of the MariaDB/MySQL store, for one table
 * prefix. Recipients found suppressed at enqueue are rare: they are settled one statement each,
 * by primary key.
 */

const q = queryBuilder('?')
const ENTRY = 'address, reason, reply, message_id, created_at'
const contains = (search: string) => `%${escapeLike(search)}%`

export function mariadbSuppressions(prefix: string): SuppressionSql {
  const S = `${prefix}suppressions`
  const R = `${prefix}recipients`
  const M = `${prefix}messages`

  return {
    findSuppressions: (addresses) =>
      q((p) => `SELECT ${ENTRY} FROM ${S} WHERE address IN ${inList(p, addresses)}`),

    upsertSuppressions: (rows) =>
      q(
        (p) => `INSERT INTO ${S} (${ENTRY})
          VALUES ${rows
            .map(
              (r) => `(${p(r.address)}, ${p(r.reason)}, ${p(r.reply)}, ${p(r.messageId)}, ${NOW})`,
            )
            .join(', ')}
          ON DUPLICATE KEY UPDATE reason = VALUES(reason), reply = VALUES(reply),
            message_id = VALUES(message_id), created_at = VALUES(created_at)`,
      ),

    deleteSuppressions: (addresses) =>
      q((p) => `DELETE FROM ${S} WHERE address IN ${inList(p, addresses)}`),

    listSuppressions: ({ search, after, limit }) =>
      q(
        (p) => `SELECT ${ENTRY} FROM ${S}
          WHERE ${after === null ? 'true' : `address > ${p(after)}`}
            AND ${search === null ? 'true' : `address LIKE ${p(contains(search))}`}
          ORDER BY address LIMIT ${int(limit)}`,
      ),

    countSuppressions: (search) =>
      q(
        (p) => `SELECT count(*) AS n FROM ${S}
          ${search === null ? '' : `WHERE address LIKE ${p(contains(search))}`}`,
      ),

    settleSuppressed: ({ recipients, failMessages }) => [
      ...recipients.map((r) =>
        q(
          (p) => `UPDATE ${R} SET status = 'failed', reply = ${p(r.reply)}, updated_at = ${NOW}
            WHERE message_id = ${p(r.id)} AND address = ${p(r.address)} AND status = 'pending'`,
        ),
      ),
      ...failMessages.map((m) =>
        q(
          (p) => `UPDATE ${M} SET status = 'failed', reason = 'suppressed',
              last_error = ${p(m.error)}, due_at = NULL, finished_at = ${NOW}, lease_owner = NULL,
              lease_expires_at = NULL, updated_at = ${NOW}
            WHERE id = ${p(m.id)} AND status IN ('queued', 'sending')`,
        ),
      ),
    ],

    findRecipient: (id, address) =>
      q(
        (p) => `SELECT address FROM ${R}
          WHERE message_id = ${p(id)} AND address_lower = LEFT(LOWER(${p(address)}), 512) LIMIT 1`,
      ),

    recordFeedback: ({ id, address, kind, code, reply }) =>
      q(
        (p) => `UPDATE ${R} SET feedback = ${p(kind)}, code = ${p(code)}, reply = ${p(reply)},
            updated_at = ${NOW}
          WHERE message_id = ${p(id)} AND address = ${p(address)}`,
      ),
  }
}
