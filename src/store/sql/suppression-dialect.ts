import type { Query } from './driver.js'

/** A suppression list entry as a dialect writes it; `address` is lower-cased. */
export interface SuppressionRow {
  address: string
  reason: string
  reply: string | null
  messageId: string | null
}

/**
 * The statements of the suppression list and of delivery feedback each SQL dialect supplies
 * (see `suppressions.ts` for what the engine does with them). Entry rows have the columns
 * `address`, `reason`, `reply`, `message_id`, `created_at`.
 */
export interface SuppressionSql {
  /** Entry rows of the stored addresses among `addresses` (lower-cased already). */
  findSuppressions(addresses: readonly string[]): Query
  /** Stores these entries, replacing the stored ones of the same address, added now. */
  upsertSuppressions(rows: readonly SuppressionRow[]): Query
  /** Deletes the entries of `addresses` (lower-cased already). */
  deleteSuppressions(addresses: readonly string[]): Query
  /** Up to `limit` entry rows in address order after `after`, containing `search` if given. */
  listSuppressions(input: { search: string | null; after: string | null; limit: number }): Query
  /** `n`: entries containing `search` (every entry when null). */
  countSuppressions(search: string | null): Query
  /**
   * Settles recipients found suppressed at enqueue, in the enqueue's transaction after the
   * insert: each becomes `failed` with its reply, and each message of `failMessages` (every
   * recipient suppressed) becomes `failed` with reason `suppressed`, finished now, unleased.
   * A dialect without it checks the list in its insert statement instead (see
   * `SqlDialect.insertMessages`), saving the round trip of the engine's lookup.
   */
  settleSuppressed?(input: {
    recipients: readonly { id: string; address: string; reply: string }[]
    failMessages: readonly { id: string; error: string }[]
  }): Query[]
  /** `address` (as stored) of the recipients of message `id` equal to `address` in any case. */
  findRecipient(id: string, address: string): Query
  /** Records feedback on a recipient found by {@link findRecipient} (its stored address). */
  recordFeedback(input: {
    id: string
    address: string
    kind: string
    code: number | null
    reply: string
  }): Query
}
