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

/** A list of strings as rows (`j.v`), from one JSON parameter, so the text never changes. */
export const jsonList = (p: Param, values: readonly string[], type = 'VARCHAR(64)'): string =>
  `(SELECT j.v FROM JSON_TABLE(${p(json(values))}, '$[*]' COLUMNS (v ${type} PATH '$')) j)`

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
