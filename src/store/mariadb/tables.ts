import type { Query } from '../sql/driver.js'
import { queryBuilder, type Param } from '../sql/query.js'
import { jsonRows, lockedChange } from './sql-parts.js'

const q = queryBuilder('?')

/** The tables of one prefix, and the statements on a list of messages every part uses. */
export type MariadbTables = ReturnType<typeof mariadbTables>

export function mariadbTables(prefix: string) {
  const M = `${prefix}messages`
  const R = `${prefix}recipients`
  const A = `${prefix}attempts`

  /** Locks the messages matching `where` (in id order, as every change does), then changes them. */
  const lockWhere = (where: (p: Param) => string, change: (ids: string[]) => Query[]) =>
    lockedChange(
      q((p) => `SELECT m.id FROM ${M} m WHERE ${where(p)} ORDER BY m.id FOR UPDATE`),
      (ids) => ({ changes: change(ids) }),
    )

  /**
   * The messages of a list of ids, by primary key: the list first, each id looked up. Forced,
   * because on a small table (or one with fresh statistics) the planner would rather scan, and
   * a scan in a locking statement locks every row it passes for a moment, hiding rows from a
   * concurrent claim's SKIP LOCKED.
   */
  const byIds = (p: Param, ids: readonly string[]) =>
    `${jsonRows(p, ids)} j STRAIGHT_JOIN ${M} m FORCE INDEX (PRIMARY) ON m.id = j.v`

  /** An UPDATE of the given messages. */
  const updateIds = (ids: readonly string[], set: string | ((p: Param) => string), name?: string) =>
    q(
      (p) =>
        `UPDATE ${byIds(p, ids)}
          SET ${typeof set === 'string' ? set : set(p)}`,
      name,
    )

  /** Deletes the given messages (their parts go by cascade; the counting trigger fires). */
  const deleteIds = (ids: readonly string[]) => q((p) => `DELETE m FROM ${byIds(p, ids)}`)

  /** Locks the messages of `ids` that `owner` leases. */
  const leasedBy = (owner: string, ids: readonly string[], name: string) =>
    q(
      (p) => `SELECT m.id FROM ${byIds(p, ids)}
        WHERE m.status = 'sending' AND m.lease_owner = ${p(owner)} ORDER BY m.id FOR UPDATE`,
      name,
    )

  return { prefix, M, R, A, lockWhere, byIds, updateIds, deleteIds, leasedBy }
}
