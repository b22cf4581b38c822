import type { Query } from '../sql/driver.js'

/**
 * A change whose changed rows the engine needs back: neither MySQL nor MariaDB has `UPDATE …
 * RETURNING`. The query itself is a `SELECT … FOR UPDATE` that locks the rows to change and
 * returns their `id`; `afterLock` gives the statements that change exactly those rows, and
 * optionally the statement whose rows are the result (the locked rows are, otherwise). The
 * driver runs all of it in one transaction (the caller's, when there is one).
 */
export interface LockedChange extends Query {
  afterLock(ids: string[]): { changes: Query[]; result?: Query }
}

export function isLockedChange(query: Query): query is LockedChange {
  return typeof (query as Partial<LockedChange>).afterLock === 'function'
}
