import { MESSAGE_STATUSES } from '../../message/types.js'
import type { Query } from '../sql/driver.js'
import type { Param } from '../sql/query.js'
import type { LockedChange } from './locked-change.js'

/**
 * Fragments every MariaDB statement is written with.
 *
 * The database's clock, in milliseconds since the epoch: UTC, so that neither the server's nor
 * the session's time zone (nor a daylight-saving change) moves it. Constant within a statement.
 */
export const NOW = `(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(3)) DIV 1000)`

export const json = (value: unknown): string => JSON.stringify(value)

/**
 * A list of strings as a table (`j.v`), from one JSON parameter, so that the text never changes:
 * join it (`JOIN ${jsonRows(…)} j ON m.id = j.v`). Never `IN (SELECT … FROM JSON_TABLE …)`:
 * MariaDB runs that as a dependent subquery over every row of the table (and an UPDATE then
 * locks every row for a moment).
 */
export const jsonRows = (p: Param, values: readonly string[], type = 'VARCHAR(64)'): string =>
  `JSON_TABLE(${p(json(values))}, '$[*]' COLUMNS (v ${type} PATH '$'))`

/** A list of values written out, `(?1, ?2)`, for statements whose text may vary: a key range. */
export const inList = (p: Param, values: readonly unknown[]): string =>
  values.length === 0 ? '(NULL)' : `(${values.map((v) => p(v)).join(', ')})`

/**
 * A whole number written into the text. LIMIT takes no parameter that mysql2 binds (it sends
 * numbers as doubles); checked here, so nothing else can get in.
 */
export function int(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`Expected a whole number, got ${n}`)
  return String(n)
}

/** Statuses written into the text (checked against the known ones), so an index on status applies. */
export function statusList(statuses: readonly string[]): string {
  for (const s of statuses) {
    if (!(MESSAGE_STATUSES as readonly string[]).includes(s))
      throw new RangeError(`Unknown status ${s}`)
  }
  return statuses.map((s) => `'${s}'`).join(', ')
}

/** A {@link LockedChange}: the locking SELECT, and what to run on the rows it locked. */
export const lockedChange = (lock: Query, afterLock: LockedChange['afterLock']): LockedChange => ({
  ...lock,
  afterLock,
})

/**
 * A locked change whose candidates come from a `FOR UPDATE SKIP LOCKED` read along a secondary
 * index: they are read again by primary key, locked, with the condition checked on the row as
 * it is now (`recheck`), and only those are changed. Why: in an early version (whose id lookups
 * ran as scans) two workers were seen sending one message, the cause not pinned down; with the
 * recheck a change depends only on the current row under its lock. It costs one round trip
 * when there are candidates, and a 3-process run showed it dropping none since.
 */
export const recheckedChange = (
  candidates: Query,
  recheck: (ids: string[]) => Query,
  afterLock: LockedChange['afterLock'],
): LockedChange =>
  lockedChange(candidates, (ids) => ({
    changes: [],
    result: lockedChange(recheck(ids), afterLock),
  }))
