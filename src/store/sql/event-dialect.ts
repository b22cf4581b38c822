import type { Query } from './driver.js'

/**
 * The statements of the event log and of its durable consumers each SQL dialect supplies (see
 * `events.ts` for what the engine does with them). The events themselves are written by the
 * database, in the transaction of each change: triggers on `messages` and `recipients` (see
 * each backend's migrations), and {@link EventSql.logDeleted} where a trigger cannot tell an
 * operator's delete from a purge.
 *
 * Event rows have the columns `seq` (position: an integer, increasing in commit order, as the
 * engine compares it), `type`, `at`, `message_id`, `recipient`, `data` (JSON text or the
 * driver's JSON). Consumer rows: `name`, `cursor` (text or null), `state` (JSON), `lease_owner`,
 * `lease_expires_at`, `retry_requests`, `updated_at`.
 */
export interface EventSql {
  /**
   * Where a database numbers events as they commit rather than as they are written (concurrent
   * writers commit out of order): statements, run in one transaction before every read, that
   * give the committed, not yet numbered events their `seq`, in the order they were written.
   * Absent where writes commit in the order they are written (SQLite).
   */
  sequenceEvents?(): Query[]
  /** `seq`: the highest position numbered so far (null on an empty log). */
  eventHead(): Query
  /**
   * Event rows with `after < seq <= upTo`, of `types` when given, in `seq` order, at most
   * `limit`.
   */
  readEvents(input: {
    after: number | null
    upTo: number
    types: readonly string[] | null
    limit: number
  }): Query
  /** `n`: events with `seq > after` (every one when null), of `types` when given. */
  countEvents(input: { after: number | null; types: readonly string[] | null }): Query
  /** `seq`: the highest position of an event older than `at` (null when none). */
  eventBefore(at: Date): Query
  /** Writes a `deleted` event, now, for each of these message ids. */
  logDeleted(ids: readonly string[]): Query
  /** Deletes the events of these (purged) messages. */
  deleteEventsOf(ids: readonly string[]): Query
  /** Deletes up to a slice (thousands) of events older than `before`; returns a row for each. */
  purgeEventsSlice(before: Date): Query
  /**
   * Creates consumer `name` if missing and leases it to `owner` for `leaseMs` when it is free,
   * expired or already `owner`'s. The last query returns its consumer row when leased, nothing
   * otherwise.
   */
  leaseConsumer(input: { name: string; owner: string; leaseMs: number }): Query[]
  /**
   * Saves `cursor` and `state` (JSON text) and sets the lease to end `leaseMs` from now (0:
   * ended), where `owner` holds the lease; returns `name` when it did.
   */
  saveConsumer(input: {
    name: string
    owner: string
    cursor: string | null
    state: string
    leaseMs: number
  }): Query
  /** Every consumer row, by name. */
  consumerRows(): Query
  /** Adds one to `retry_requests` of the consumers named (all when null); returns `name` of each. */
  requestConsumerRetry(names: readonly string[] | null): Query
}
