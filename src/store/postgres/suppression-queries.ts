import { escapeLike } from '../sql/filter.js'
import { queryBuilder } from '../sql/query.js'
import type { SuppressionSql } from '../sql/suppression-dialect.js'

/**
 * The suppression list and feedback statements of the PostgreSQL store, for one schema. New
 * messages are checked against the list inside the insert statement (queries.ts): one round
 * trip, as without the check.
 */

const q = queryBuilder('$')
const ENTRY = 'address, reason, reply, message_id, created_at'
const contains = (search: string) => `%${escapeLike(search)}%`

export function postgresSuppressions(s: string): SuppressionSql {
  return {
    findSuppressions: (addresses) =>
      q(
        (p) =>
          `SELECT ${ENTRY} FROM ${s}.suppressions WHERE address = ANY(${p([...addresses])}::text[])`,
        'findSuppressions',
      ),

    upsertSuppressions: (rows) =>
      q(
        (p) => `INSERT INTO ${s}.suppressions AS x (address, reason, reply, message_id)
          SELECT * FROM unnest(${p(rows.map((r) => r.address))}::text[],
            ${p(rows.map((r) => r.reason))}::text[], ${p(rows.map((r) => r.reply))}::text[],
            ${p(rows.map((r) => r.messageId))}::text[]) ORDER BY 1
          ON CONFLICT (address) DO UPDATE SET reason = excluded.reason, reply = excluded.reply,
            message_id = excluded.message_id, created_at = now()`,
      ),

    deleteSuppressions: (addresses) =>
      q((p) => `DELETE FROM ${s}.suppressions WHERE address = ANY(${p([...addresses])}::text[])`),

    listSuppressions: ({ search, after, limit }) =>
      q(
        (p) => `SELECT ${ENTRY} FROM ${s}.suppressions
          WHERE ${after === null ? 'true' : `address COLLATE "C" > ${p(after)}`}
            AND ${search === null ? 'true' : `address LIKE ${p(contains(search))}`}
          -- Byte order, as every store pages: the cursor compares in the same order.
          ORDER BY address COLLATE "C" LIMIT ${p(limit)}`,
      ),

    countSuppressions: (search) =>
      q(
        (p) => `SELECT count(*)::int AS n FROM ${s}.suppressions
          ${search === null ? '' : `WHERE address LIKE ${p(contains(search))}`}`,
      ),

    findRecipient: (id, address) =>
      q(
        (p) => `SELECT address FROM ${s}.recipients
          WHERE message_id = ${p(id)} AND lower(address) = lower(${p(address)}) LIMIT 1`,
      ),

    recordFeedback: ({ id, address, kind, code, reply }) =>
      q(
        (p) => `UPDATE ${s}.recipients SET feedback = ${p(kind)}, code = ${p(code)},
            reply = ${p(reply)}, updated_at = now()
          WHERE message_id = ${p(id)} AND address = ${p(address)}`,
      ),
  }
}
