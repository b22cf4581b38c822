import type { SubmissionSql } from './submission-dialect.js'
import type { MessageStatus } from '../../message/types.js'
import type { NewMessage } from '../store.js'
import type { Query } from './driver.js'
import type { Condition, Param } from './query.js'
import type { ShapingSql } from './shaping-dialect.js'
import type { SuppressionSql } from './suppression-dialect.js'
import type { EventSql } from './event-dialect.js'
import type { TemplateSql } from './template-dialect.js'

/**
 * What a SQL backend supplies to the queue engine (`sql-store.ts`): the text of each statement,
 * how its values are written and its rows read, and whose clock decides. The engine holds the
 * algorithms (which statements run, in which transaction, what their rows mean); a dialect
 * holds no decisions, only SQL. Statements return rows with the column names documented here.
 *
 * Clock: every time that decides correctness (due times, leases, expiry) is the database's
 * own — `now()` in PostgreSQL, the process's clock in SQLite, whose only clock it is. The
 * engine passes durations (`leaseMs`, `delayMs`), never "now".
 */
export interface SqlDialect extends ShapingSql, SuppressionSql, EventSql, TemplateSql {
  /** `sqlite`, `postgres`. */
  readonly kind: string
  readonly codec: RowCodec
  /** Conditions on messages for filters and selectors; see `filter.ts`. */
  readonly filter: FilterSql
  /** Mail enqueued from SQL, where the database has `outbox.enqueue()`. */
  readonly submissions?: SubmissionSql

  // Enqueue.
  /**
   * Inserts messages (their bytes, recipients and tags), and wakes other processes' workers if it
   * stored any. The queries' rows together give `id` of each one stored; a message whose
   * idempotency key is taken (earlier, or by a transaction that committed meanwhile) is not.
   * A dialect without `settleSuppressed` also checks the recipients of messages with
   * `checkSuppression` against the suppression list here, as `NewMessage` says, and returns a
   * row `id`, `suppressed` (the address as given) for each recipient it stored failed.
   * The column `template` of each message row holds `templateColumn(m.template)`.
   */
  insertMessages(messages: readonly NewMessage[]): Query[]
  /** `id`, `message_id`, `idempotency_key` of the messages holding these keys. */
  findByIdempotencyKeys(keys: readonly string[]): Query
  /** Wakes workers of other processes (a NOTIFY); empty where commits are seen otherwise. */
  notify(): Query[]

  // Claims and leases.
  /**
   * Leases up to `limit` messages to `owner`: those whose lease expired first, then due queued
   * or deferred ones by priority, due time and id, in one statement. Returns `id`.
   */
  claim(input: { owner: string; limit: number; leaseMs: number }): Query
  /**
   * What a worker needs of leased messages: `id`, `message_id`, `mail_from`, `priority` (rank),
   * `attempts`, `backoff_step`, `created_ago_ms` and `expires_in_ms` (by the store's clock),
   * `raw`, `pending` (the pending recipients in order, as the codec's `list`), `failed` (count),
   * `eight_bit` and `smtputf8` (null when not recorded), `tags` (the JSON column of the message
   * row, not a join) and `upstream`.
   */
  claimedRows(ids: readonly string[]): Query
  /**
   * Optional: {@link claim} and {@link claimedRows} in one statement, for a database where each
   * statement is a round trip. Returns the rows `claimedRows` would.
   */
  claimWithRows?(input: { owner: string; limit: number; leaseMs: number }): Query
  /** `owner` of every message being sent (few: the messages in flight). */
  leaseOwners(): Query
  /** Ends now the leases these owners hold (they are dead), so the next claim takes them. */
  expireLeasesOf(owners: readonly string[]): Query
  /** Extends the leases `owner` holds on `ids`; returns `id` of each. */
  renewLeases(input: { owner: string; ids: readonly string[]; leaseMs: number }): Query
  /**
   * Gives leased messages back with their previous status: due now, or with `delaysMs` (one per
   * id, whole ms) each that much later; returns `id` of each.
   */
  releaseLeases(input: {
    owner: string
    ids: readonly string[]
    delaysMs: readonly number[] | null
  }): Query

  // Outcomes.
  /**
   * Records a batch of outcomes: each attempt (when the message still exists), and, where the
   * completion's owner still holds the lease, the recipients' and the message's new state. The
   * queries' rows together give `id` of each message whose outcome applied.
   */
  complete(batch: readonly CompletionRow[]): Query[]
  /** Makes every message deferred only by an upstream outage due now; returns `id` of each. */
  wakeUpstreamWaiters(): Query
  /** Fails up to 1000 overdue deferred messages (and their pending recipients) as expired; the last query returns `id` of each. */
  expireOverdue(): Query[]
  /** `ms` until the next due time or lease expiry (0 or less: now), null when nothing waits. */
  msUntilNextDue(): Query

  // Reading.
  /**
   * The summary columns (see {@link SUMMARY_COLUMNS}) of one message, and `template` (the
   * template it was made from, as written at enqueue: JSON text or the driver's JSON, or null).
   */
  messageRow(id: string): Query
  /**
   * `address`, `status`, `code`, `reply` of a message's recipients, in order; `status` is the
   * feedback (`bounced`, `complained`) where some came back after delivery.
   */
  recipientRows(id: string): Query
  /** `worker`, `started_at`, `duration_ms`, `outcome`, `error`, `recipients`, `upstream` of its attempts, oldest first. */
  attemptRows(id: string): Query
  /** `raw` of a message. */
  raw(id: string): Query
  /** Summary columns of matching messages, newest first (`created_at`, then `id`), after the cursor. */
  listPage(input: {
    where: Condition
    /** The statuses the filter names, if any: a dialect may read an index on status then. */
    statuses: readonly MessageStatus[]
    after: { createdAt: number; id: string } | null
    limit: number
  }): Query

  // Operator actions on the messages a condition selects; each returns `id` of those changed.
  hold(where: Condition): Query
  unhold(where: Condition): Query
  /** Deferred messages: due now, their backoff kept. */
  retryDeferred(where: Condition): Query
  /** Failed messages: queued again with their failed recipients pending, expiring `maxAgeMs` from now; the last query returns `id`. */
  requeueFailed(input: { where: Condition; maxAgeMs: number }): Query[]
  remove(where: Condition): Query
  /** Deletes at most a slice (thousands) of finished messages; run until it deletes none. */
  purgeSlice(input: { statuses: readonly ('sent' | 'failed')[]; finishedBefore: Date }): Query

  // Counts, kept as the queue changes so that reading them does not grow with the queue.
  /** `status`, `n`: messages per status. */
  statusCounts(): Query
  /** `oldest` (creation time of the oldest waiting message), `sent_hour`, `sent_day`, `failed_hour`, `failed_day`. */
  recentCounts(): Query
  /** Forgets counts of finished messages older than the last day. */
  pruneRecentCounts(): Query
  /** `t`, `outcome`, `error` of the newest attempt that found the upstream down or misconfigured, if nothing was delivered after it. */
  upstreamProblem(): Query
  /** `bucket` (start, epoch ms), `outcome`, `n`: attempts since `since`. */
  activityBuckets(input: { since: Date; bucketMs: number }): Query
  /** `t`: start of the newest attempt that delivered something. */
  lastSuccess(): Query
  /** `t`, `error`: the newest attempt that recorded an error. */
  lastError(): Query
}

/** How a dialect's rows read: drivers return times, JSON and flags in their own types. */
export interface RowCodec {
  /** A time column as epoch milliseconds, or null. */
  time(value: unknown): number | null
  /** A JSON column, parsed. */
  json<T>(value: unknown): T
  /** A list column (`pending`): a JSON array or the driver's array. */
  list(value: unknown): string[]
  /** A boolean column. */
  flag(value: unknown): boolean
}

/** Condition fragments the engine combines into filters (`filter.ts`). */
export interface FilterSql {
  /** Matches everything. */
  readonly all: string
  status(p: Param, statuses: readonly MessageStatus[]): string
  /** The envelope sender, case-insensitively. */
  from(p: Param, address: string): string
  /** A recipient, case-insensitively. */
  toAddress(p: Param, address: string): string
  /** Any recipient at `@domain` (the text starts with `@`). */
  toDomain(p: Param, atDomain: string): string
  tag(p: Param, tag: string): string
  /** Created at or after. */
  since(p: Param, date: Date): string
  /** Created before. */
  before(p: Param, date: Date): string
  /** The subject contains the text, case-insensitively. */
  subject(p: Param, text: string): string
  ids(p: Param, ids: readonly string[]): string
}

/** One outcome as the dialect writes it; times as durations from now (see the clock rule). */
export interface CompletionRow {
  /** Position in the batch. */
  ord: number
  id: string
  owner: string
  worker: string
  startedAgoMs: number
  durationMs: number
  outcome: string
  error: string | null
  attemptRecipients: unknown[]
  /** The upstream the attempt used, or null. */
  upstream: string | null
  recipients: { address: string; status: string; code: number | null; reply: string }[]
  status: 'sent' | 'failed' | 'deferred'
  /** For `deferred`: how long from now until it is due. */
  delayMs: number
  backoffIncrement: 0 | 1
  waitingUpstream: boolean
  reason: string | null
  captured: boolean
}

/** The columns of a message summary every dialect's listing and detail statements return. */
export const SUMMARY_COLUMNS = [
  'id',
  'message_id',
  'status',
  'priority',
  'mail_from',
  'recipients',
  'subject',
  'tags',
  'size',
  'idempotency_key',
  'upstream',
  'created_at',
  'due_at',
  'expires_at',
  'attempts',
  'reason',
  'last_error',
  'captured',
  'lease_owner',
  'lease_expires_at',
  'finished_at',
] as const
