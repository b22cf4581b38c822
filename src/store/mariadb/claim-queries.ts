import type { SqlDialect } from '../sql/dialect.js'
import { queryBuilder } from '../sql/query.js'
import { NOW, int, lockedChange } from './sql-parts.js'
import type { MariadbTables } from './tables.js'

const q = queryBuilder('?')
/** The name of a claim's statement: the driver tells by it that workers found work. */
export const CLAIM_STATEMENT = 'claimLock'

/** Claims: which messages a worker leases, and what it gets of them. */
export function claimQueries({ prefix, M, R, byIds, updateIds }: MariadbTables) {
  const claimedRows = (ids: readonly string[]) =>
    q(
      (p) => `
      SELECT m.id, m.message_id, m.mail_from, m.priority, m.attempts, m.backoff_step,
        m.eight_bit, m.smtputf8, m.tags, m.upstream, ${NOW} - m.created_at AS created_ago_ms,
        m.expires_at - ${NOW} AS expires_in_ms, b.raw,
        (SELECT COALESCE(CONCAT('[', GROUP_CONCAT(JSON_QUOTE(r.address) ORDER BY r.position
           SEPARATOR ','), ']'), '[]')
         FROM ${R} r WHERE r.message_id = m.id AND r.status = 'pending') AS pending,
        (SELECT COUNT(*) FROM ${R} r WHERE r.message_id = m.id AND r.status = 'failed') AS failed
      FROM ${byIds(p, ids)}
        LEFT JOIN ${prefix}message_bodies b ON b.id = m.id
      ORDER BY m.priority, m.due_at, m.id`,
      'claimedRows',
    )

  /**
   * Leases due messages: those whose lease expired first, then waiting ones by priority, due
   * time and id, along the claimable index. SKIP LOCKED: a claim never waits for another.
   */
  const claim: SqlDialect['claim'] = ({ owner, limit, leaseMs }) => {
    const n = int(limit)
    return lockedChange(
      q(
        () => `
        (SELECT id, -1 AS arm, lease_expires_at AS t FROM ${M}
          WHERE status = 'sending' AND lease_expires_at <= ${NOW}
          ORDER BY lease_expires_at LIMIT ${n} FOR UPDATE SKIP LOCKED)
        UNION ALL
        (SELECT id, claim_rank, due_at FROM ${M}
          WHERE claim_rank IS NOT NULL AND due_at <= ${NOW}
          ORDER BY claim_rank, due_at, id LIMIT ${n} FOR UPDATE SKIP LOCKED)
        ORDER BY arm, t, id`,
        CLAIM_STATEMENT,
      ),
      // Read again by primary key, as the rows are now (see recheckedChange), in candidate order.
      (candidates) => ({
        changes: [],
        result: lockedChange(
          q(
            (p) => `SELECT m.id FROM ${byIds(p, candidates)}
              WHERE (m.claim_rank IS NOT NULL AND m.due_at <= ${NOW})
                OR (m.status = 'sending' AND m.lease_expires_at <= ${NOW})
              ORDER BY m.id FOR UPDATE`,
            'claimRecheck',
          ),
          (confirmed) => {
            const claimable = new Set(confirmed)
            const ids = candidates.filter((id) => claimable.has(id)).slice(0, limit)
            return {
              changes: [
                updateIds(
                  ids,
                  (p) => `status = 'sending', lease_owner = ${p(owner)},
                    lease_expires_at = ${NOW} + ${p(leaseMs)}, updated_at = ${NOW}`,
                  'claimLease',
                ),
              ],
              result: claimedRows(ids),
            }
          },
        ),
      }),
    )
  }

  return { claim, claimedRows }
}
