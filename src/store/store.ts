import type { Envelope, MessageStatus, Priority, RecipientStatus } from '../message/types.js'

/**
 * The contract every queue backend (SQLite, PostgreSQL, Redis, MariaDB) fulfils. The rest of
 * Outbox talks to a queue only through it, so a backend is a folder under `src/store/` and
 * passes the shared contract suite in `test/store/contract.ts`.
 *
 * Rules every backend keeps:
 * - A method resolves only after its writes are durable (committed), and a write is all or
 *   nothing: a rejected `enqueue` stores none of its messages.
 * - Times that decide correctness (due times, lease expiry) come from the backend's own clock
 *   (`now()` in a database); callers never pass "now".
 * - The backend owns its connections; no driver or transaction type leaks through here.
 * - Failures to reach the backend reject with `StoreUnavailableError`.
 */
export interface Store {
  /** Short name of the backend, e.g. `sqlite`. */
  readonly kind: string

  /**
   * Stores a batch of new messages atomically. A message whose `idempotencyKey` is already in
   * the store (or earlier in the same batch) is not stored again: its result points to the
   * first message and has `duplicate: true`.
   */
  enqueue(messages: readonly NewMessage[], options?: EnqueueOptions): Promise<EnqueueResult[]>

  /**
   * Leases up to `limit` due messages to `owner` for `leaseMs`: queued or deferred messages
   * whose due time has come, and `sending` messages whose lease has expired (their worker
   * died). Order: priority, then due time, then age. Atomic: two callers never get the same
   * message while a lease is valid.
   */
  claim(request: ClaimRequest): Promise<ClaimedMessage[]>

  /** Extends the leases `owner` still holds on `ids`; returns the ids whose lease it still holds. */
  renewLeases(owner: string, ids: readonly string[], leaseMs: number): Promise<string[]>

  /**
   * Gives leased messages back without an attempt (a stopping worker's unstarted messages):
   * they become due at once, with their previous status. With `delaysMs` (one per id, in the
   * store's clock from now), each becomes due that much later instead: a message held back by
   * a rate limit goes back to wait for its turn without spending an attempt.
   */
  releaseLeases(owner: string, ids: readonly string[], delaysMs?: readonly number[]): Promise<void>

  /**
   * Records the outcome of a delivery attempt: the attempt log entry, each recipient's new
   * status and the message's next state. Applied only while `owner` holds the lease; returns
   * false (and records only the attempt) if the lease was lost to another worker meanwhile.
   */
  complete(completion: Completion): Promise<boolean>

  /**
   * Milliseconds until something becomes claimable (a due time, or a lease expiry), by the
   * store's clock (0 if something is claimable now), or null when nothing is waiting. Workers
   * sleep that long; a relative time keeps a worker with a skewed clock on time.
   */
  msUntilNextDue(): Promise<number | null>

  /**
   * Makes every message deferred only because the upstream was down due now. Called when a
   * probe finds the upstream back. Returns how many were woken.
   */
  wakeUpstreamWaiters(): Promise<number>

  /**
   * Fails, with reason `expired`, every deferred message whose expiry time has passed, and
   * its still-pending recipients. Returns how many were failed.
   */
  expireOverdue(): Promise<number>

  /** One message with its recipients and attempt log, or null. Does not load the raw bytes. */
  getMessage(id: string): Promise<MessageDetail | null>

  /** The stored RFC 5322 bytes of a message, or null if there is no such message. */
  getRaw(id: string): Promise<Buffer | null>

  /** Number of messages in each status. */
  countByStatus(): Promise<Record<MessageStatus, number>>

  /**
   * Messages matching `filter`, newest first, a page at a time. Pass the returned `nextCursor`
   * to get the next page; it is null on the last one. Fast at millions of messages.
   */
  listMessages(filter: MessageFilter, page: PageRequest): Promise<MessagePage>

  /** Sets queued and deferred messages aside (`held`). Returns the ids that changed. */
  hold(selector: MessageSelector): Promise<string[]>

  /** Puts held messages back in the queue, due at once. Returns the ids that changed. */
  unhold(selector: MessageSelector): Promise<string[]>

  /**
   * Makes deferred messages due at once (ignoring their backoff), and requeues failed ones:
   * their failed recipients become pending again (sent ones stay sent) and their max age starts
   * over, `maxAgeMs` from now. Returns the ids that changed.
   */
  retry(selector: MessageSelector, options: { maxAgeMs: number }): Promise<string[]>

  /** Deletes messages, with their recipients and attempt log. Returns the ids deleted. */
  remove(selector: MessageSelector): Promise<string[]>

  /** Deletes finished messages (of the given statuses) that finished before `finishedBefore`. */
  purge(options: {
    finishedBefore: Date
    statuses: readonly ('sent' | 'failed')[]
  }): Promise<number>

  /** Counts for a dashboard or `outbox stats`. */
  stats(): Promise<QueueStats>

  /**
   * Delivery attempts since `since`, counted per `bucketMs` by what they led to, and the
   * upstream's last success and last error: the dashboard's activity chart and health panel.
   */
  activity(request: ActivityRequest): Promise<Activity>

  /**
   * Registers a callback run when messages are enqueued, in this process or (where the
   * backend can tell) another one. Returns a function that unregisters it.
   */
  onEnqueue(listener: () => void): () => void

  /**
   * Takes one token from each bucket of each request, in order, atomically per request: a
   * request's tokens are all taken (it may send once `waitMs` has passed: a reservation, so
   * every worker sharing the store gets its own turn) or, when its wait would exceed
   * `maxWaitMs`, none are (`granted: false`; `waitMs` says when to ask again). Buckets are
   * shared by every process on the store; their state lives in it, never in process memory.
   * The arithmetic is {@link takeFromBuckets} (rate-bucket.ts), on the store's clock.
   */
  takeTokens(requests: readonly TokenRequest[]): Promise<TokenGrant[]>

  /**
   * Adaptive throttling: for each change, halves the bucket's current rate (`throttled`) or
   * raises it back toward the configured rate (an accepted delivery), as
   * {@link adjustBucketRate} (rate-bucket.ts) says.
   */
  adjustRates(changes: readonly RateChange[]): Promise<void>

  /** Every bucket's current state, for `outbox upstreams` and the dashboard. */
  rateBuckets(): Promise<RateBucketState[]>

  /**
   * Replaces what worker `worker` last reported of its upstreams (state, connections, last
   * error); an empty list removes its reports (a stopping worker). A report counts for `ttlMs`
   * (by the store's clock), so a worker that died without saying so drops out.
   */
  reportUpstreams(worker: string, reports: readonly UpstreamReport[], ttlMs: number): Promise<void>

  /** Every worker's unexpired upstream reports. */
  upstreamReports(): Promise<WorkerUpstreamReport[]>

  /**
   * Attempts since `since`, counted per upstream (the attempt's `upstream`; attempts that
   * recorded none are left out) as {@link toActivityBuckets} counts them: sent, failed, the rest
   * deferred.
   */
  upstreamActivity(since: Date): Promise<UpstreamActivity[]>

  /**
   * Adds addresses to the suppression list, or updates their entry (reason, reply, message,
   * time) when they are on it. Addresses are stored lower-cased. Returns how many were new.
   */
  suppress(entries: readonly SuppressionInput[]): Promise<number>

  /** Takes addresses (any case) off the suppression list. Returns how many were on it. */
  unsuppress(addresses: readonly string[]): Promise<number>

  /**
   * The suppression list, a page at a time in address order, optionally only the addresses
   * containing `search` (case-insensitive); `total` counts every match.
   */
  listSuppressions(request: SuppressionQuery): Promise<SuppressionPage>

  /** The entries of those of `addresses` (any case) that are on the suppression list. */
  findSuppressions(addresses: readonly string[]): Promise<Suppression[]>

  /**
   * Records what came back after a delivery (a bounce, a complaint) on the message's recipient:
   * its status becomes `bounced` or `complained`, with the remote reply. Returns how many of
   * the items found their message and recipient; the others are ignored.
   */
  recordFeedback(items: readonly RecipientFeedback[]): Promise<number>

  /**
   * Events of the log, in log order, after position `after` (null: from the oldest kept). Every
   * state change of a message wrote its event in the same transaction as the change, so the log
   * holds no event of a change that did not commit and misses none that did; events of one
   * message are in the order of its changes (the events of one change, such as an attempt's
   * recipient and message events, in any order among themselves). `cursor` is where the next read goes on from: past
   * the events returned and past those the `types` filter skipped.
   */
  readEvents(query: EventQuery): Promise<EventPage>

  /** How many events after `after` (of `types`, if given) the log holds: a consumer's backlog. */
  countEvents(query: Omit<EventQuery, 'limit'>): Promise<number>

  /**
   * The position just before the first event at or after `at` (a start for reading "the last
   * hour"), or the end of the log when every event is older. Null on an empty log.
   */
  eventPosition(at: Date | 'end'): Promise<string | null>

  /** Deletes events older than `before` (retention). Returns how many. */
  purgeEvents(before: Date): Promise<number>

  /**
   * Leases the durable consumer `name` (a webhook endpoint) to `owner` for `leaseMs`, creating it
   * (cursor null) on first use. Null when another owner holds an unexpired lease: one process at
   * a time reads on for a consumer, which keeps its deliveries in order.
   */
  leaseConsumer(request: {
    name: string
    owner: string
    leaseMs: number
  }): Promise<EventConsumer | null>

  /**
   * Saves a leased consumer's position and state and extends its lease by `leaseMs` (0 gives it
   * up). False, and nothing saved, when `owner` no longer holds the lease.
   */
  saveConsumer(update: {
    name: string
    owner: string
    cursor: string | null
    state: Record<string, unknown>
    leaseMs: number
  }): Promise<boolean>

  /** Every consumer, by name. */
  consumers(): Promise<EventConsumer[]>

  /**
   * Asks the consumers named (every one when null) to retry what they gave up on: increments
   * their `retryRequests`. Returns how many consumers it found.
   */
  requestConsumerRetry(names: readonly string[] | null): Promise<number>

  /**
   * Stores a new version of one language of a template: the latest version of (name, language)
   * plus one (1 for the first), atomic with concurrent writers (two puts never get the same
   * version). When the content equals the latest version's, nothing is stored and that version
   * is returned with `created: false`. Versions of a language are never renumbered or reused
   * while the template exists.
   */
  putTemplate(
    name: string,
    language: string,
    content: TemplateContent,
  ): Promise<{ template: StoredTemplate; created: boolean }>

  /** The latest version of (name, language), or version `version`; null when there is none. */
  getTemplate(name: string, language: string, version?: number): Promise<StoredTemplate | null>

  /** Every version of every language of a template, by language then newest version first; [] when none. */
  templateVersions(name: string): Promise<StoredTemplate[]>

  /** Every template by name: its languages with their latest version and when it was stored. */
  listTemplates(): Promise<TemplateSummary[]>

  /**
   * Deletes a template (every language and version), or only `language` of it. Returns how many
   * versions were deleted (0: there was none). Messages rendered from it keep their bytes.
   */
  removeTemplate(name: string, language?: string): Promise<number>

  /**
   * Mail enqueued with SQL (`outbox.enqueue()`, where the backend has it): takes up to `limit`
   * waiting submissions, oldest first, locked so that no other process takes them, and asks
   * `prepare` for the message each becomes (composed as `sendRaw()` composes, its id the
   * submission's) or why it cannot be taken. In one transaction it stores the messages and
   * deletes their submissions; a refused one is kept with its reason and not offered again.
   * Resolves with how many submissions it took (refused ones included) and the messages it
   * stored (not those whose idempotency key matched an earlier message).
   */
  takeSubmissions?(limit: number, prepare: PrepareSubmissions): Promise<TakenSubmissions>

  /** What `outbox.enqueue()` checks in the database: the size limit and the upstream names. */
  configureSubmissions?(settings: { maxMessageSize: number; upstreams: string[] }): Promise<void>

  /** Closes connections. Further calls reject. */
  close(): Promise<void>
}

/** A message enqueued with SQL, as the database function checked and kept it. */
export interface Submission {
  id: string
  raw: Buffer
  from: string
  to: string[]
  priority: Priority
  sendAt: Date | null
  idempotencyKey: string | null
  tags: string[]
  upstream: string | null
  ignoreSuppression: boolean
}

/** What {@link Store.takeSubmissions} did. */
export interface TakenSubmissions {
  /** Submissions taken, refused ones included. */
  taken: number
  /** Messages stored, as `enqueue()` would have reported them (duplicates left out). */
  stored: { id: string; priority: Priority }[]
}

/** See {@link Store.takeSubmissions}: the messages to store, and the reason for each refused. */
export type PrepareSubmissions = (
  submissions: Submission[],
) => Promise<{ messages: NewMessage[]; refused: Map<string, string> }>

/** One language of a template as an operator writes it (Liquid source). */
export interface TemplateContent {
  subject: string
  /** The HTML part, or null for a text-only template. */
  html: string | null
  /** The text part, or null to have it generated from the HTML. */
  text: string | null
}

/** A stored version of one language of a template. */
export interface StoredTemplate extends TemplateContent {
  name: string
  language: string
  /** 1, 2, … per (name, language). */
  version: number
  createdAt: Date
}

/** A template in a listing: each language's latest version. */
export interface TemplateSummary {
  name: string
  languages: { language: string; version: number; updatedAt: Date }[]
}

/** Which template produced a message: recorded with it at enqueue. */
export interface TemplateRef {
  name: string
  language: string
  version: number
}

/** The event log members of {@link Store}: what a backend's event part supplies. */
export type EventLogMethods = Pick<
  Store,
  | 'readEvents'
  | 'countEvents'
  | 'eventPosition'
  | 'purgeEvents'
  | 'leaseConsumer'
  | 'saveConsumer'
  | 'consumers'
  | 'requestConsumerRetry'
>

/** The template members of {@link Store}: what a backend's template part supplies. */
export type TemplateMethods = Pick<
  Store,
  'putTemplate' | 'getTemplate' | 'templateVersions' | 'listTemplates' | 'removeTemplate'
>

/**
 * What an event records. Message events (`recipient` null): `queued`, `deferred` (an attempt
 * left it for later), `held`, `released` (from held), `retried` (an operator requeued it after
 * it failed), `deleted` (an operator removed it), `expired` (it failed for its age). Recipient
 * events: `sent`, `failed` (for good), `suppressed` (on the suppression list at enqueue, never
 * tried), and, after delivery, `bounced` and `complained`.
 */
export type EventType =
  | 'queued'
  | 'sent'
  | 'deferred'
  | 'failed'
  | 'held'
  | 'released'
  | 'retried'
  | 'deleted'
  | 'expired'
  | 'bounced'
  | 'complained'
  | 'suppressed'

/** Every {@link EventType}. */
export const EVENT_TYPES: readonly EventType[] = [
  'queued',
  'sent',
  'deferred',
  'failed',
  'held',
  'released',
  'retried',
  'deleted',
  'expired',
  'bounced',
  'complained',
  'suppressed',
]

/**
 * One event of the log. `data` by type (times as ISO 8601 text, absent values null):
 * - `queued`: `messageId`, `from`, `to` (list), `subject`, `tags`, `priority`, `dueAt`
 * - `sent`: `code`, `reply`, `upstream` (the named upstream of the attempt)
 * - `failed`, `suppressed`, `bounced`, `complained`: `code`, `reply`
 * - `deferred`: `reason`, `error`, `dueAt` (next attempt), `attempts`
 * - `expired`: `error`
 * - `held`, `released`, `retried`, `deleted`: nothing
 */
export interface StoredEvent {
  /** Its position in the log: opaque text, to pass as `after`. */
  seq: string
  type: EventType
  /** When the change happened, by the store's clock. */
  at: Date
  /** Queue id of the message. */
  id: string
  /** The recipient of a recipient event; null for a message event. */
  recipient: string | null
  data: Record<string, unknown>
}

/** Arguments of {@link Store.readEvents}. */
export interface EventQuery {
  /** A position (`seq`, or a page's `cursor`); null reads from the oldest event kept. */
  after: string | null
  /** Only events of these types; all when absent. */
  types?: readonly EventType[]
  limit: number
}

/** What {@link Store.readEvents} returns. */
export interface EventPage {
  events: StoredEvent[]
  /** Where to read on from; `after` itself when nothing new was found. */
  cursor: string | null
}

/** A durable consumer of the log (a webhook endpoint), as stored. */
export interface EventConsumer {
  name: string
  /** Position up to which it has handled the log; null before its first save. */
  cursor: string | null
  /** The consumer's own state (backoff, errors, what it gave up on), as it saved it. */
  state: Record<string, unknown>
  leaseOwner: string | null
  leaseExpiresAt: Date | null
  /** How many times an operator asked it to retry (see {@link Store.requestConsumerRetry}). */
  retryRequests: number
  updatedAt: Date
}

/** The traffic-shaping members of {@link Store}: what a backend's shaping part supplies. */
export type ShapingMethods = Pick<
  Store,
  | 'takeTokens'
  | 'adjustRates'
  | 'rateBuckets'
  | 'reportUpstreams'
  | 'upstreamReports'
  | 'upstreamActivity'
>

/** The deliverability members of {@link Store}: the suppression list and feedback. */
export type DeliverabilityMethods = Pick<
  Store,
  'suppress' | 'unsuppress' | 'listSuppressions' | 'findSuppressions' | 'recordFeedback'
>

/**
 * Why an address is on the suppression list: a permanent refusal saying the address does not
 * exist (`rejected`), a bounce or complaint that came back later, or an operator's choice.
 */
export type SuppressionReason = 'rejected' | 'bounced' | 'complained' | 'manual'

/** Every {@link SuppressionReason}. */
export const SUPPRESSION_REASONS: readonly SuppressionReason[] = [
  'rejected',
  'bounced',
  'complained',
  'manual',
]

/** One address to put on the suppression list. */
export interface SuppressionInput {
  address: string
  reason: SuppressionReason
  /** The remote reply that caused it, or an operator's note. */
  reply: string | null
  /** The queue id of the message whose delivery caused it, if any. */
  messageId: string | null
}

/** An entry of the suppression list. */
export interface Suppression extends SuppressionInput {
  /** Lower-cased. */
  address: string
  /** When it was added, or last updated. */
  createdAt: Date
}

/** Arguments of {@link Store.listSuppressions}. */
export interface SuppressionQuery {
  /** Only addresses containing this text (case-insensitive). */
  search?: string
  limit: number
  /** Where the previous page ended (the last address); omit for the first page. */
  cursor?: string | null
}

/** One page of the suppression list. */
export interface SuppressionPage {
  entries: Suppression[]
  /** Pass as `cursor` for the next page; null on the last one. */
  nextCursor: string | null
  /** Entries matching the query, over every page. */
  total: number
}

/** See {@link Store.recordFeedback}. */
export interface RecipientFeedback {
  /** Queue id of the original message. */
  id: string
  /** The recipient (any case). */
  address: string
  kind: 'bounced' | 'complained'
  /** The remote SMTP code, if the report has one (`Diagnostic-Code: smtp; 550 …`). */
  code: number | null
  /** The remote reply or report summary. */
  reply: string
}

/** A token bucket a send needs a token from: `upstream:<name>` or `domain:<domain>`. */
export interface RateBucketRef {
  key: string
  /** The configured rate, in tokens per second (`14/s` is 14, `100/m` is 1.667). */
  ratePerSec: number
}

/** One send's ask of {@link Store.takeTokens}. */
export interface TokenRequest {
  buckets: readonly RateBucketRef[]
  /** Longest wait for which tokens are taken now; beyond it none are. */
  maxWaitMs: number
}

/** The answer to one {@link TokenRequest}. */
export interface TokenGrant {
  /** Taken: send after `waitMs`. Not taken: ask again in `waitMs`. */
  granted: boolean
  waitMs: number
  /** Each bucket's current rate per second, in order (below the configured one after throttling). */
  rates: number[]
}

/** One change of {@link Store.adjustRates}. */
export interface RateChange {
  key: string
  /** The configured rate per second: the ceiling the rate grows back to. */
  ratePerSec: number
  /** A throttling reply (halve) or an accepted delivery (raise). */
  throttled: boolean
}

/** A bucket as stored. */
export interface RateBucketState {
  key: string
  /** Current rate per second (adaptive throttling lowers it). */
  rate: number
  /** Tokens as of `updatedAt` (negative: reserved ahead). */
  tokens: number
  updatedAt: Date
  /** Last time a throttling reply halved the rate. */
  throttledAt: Date | null
}

/** What one worker sees of one upstream (its breaker and pool). */
export interface UpstreamReport {
  upstream: string
  /** The breaker is open: probing. */
  down: boolean
  downSince: Date | null
  misconfigured: boolean
  lastError: string | null
  lastErrorAt: Date | null
  /** SMTP connections (or sends) in use now. */
  connections: number
}

/** An {@link UpstreamReport} with who reported it and when. */
export interface WorkerUpstreamReport extends UpstreamReport {
  worker: string
  reportedAt: Date
}

/** See {@link Store.upstreamActivity}. */
export interface UpstreamActivity {
  upstream: string
  sent: number
  deferred: number
  failed: number
}

/** A message ready to be stored: composed, validated, with its schedule decided. */
export interface NewMessage {
  id: string
  messageId: string
  envelope: Envelope
  raw: Buffer
  subject: string | null
  priority: Priority
  /** When it becomes claimable (its `sendAt`, or null for at once). */
  sendAt: Date | null
  /** Max age: after this time a deferred message fails as `expired`. As ms after it becomes due. */
  maxAgeMs: number
  idempotencyKey: string | null
  tags: string[]
  /** It has 8-bit data: relay it with `BODY=8BITMIME` (see `transportNeeds`). */
  eightBit: boolean
  /** An envelope address is not ASCII: relay it with `SMTPUTF8`. */
  smtpUtf8: boolean
  /** The upstream named in its send options (overriding the routes), or null. */
  upstream?: string | null
  /**
   * Check the recipients against the suppression list, in the insert: those on it are stored
   * failed at once (reply `suppressed (…)`, see suppression-reply.ts), never tried; when every
   * recipient is on it, the message is stored `failed` with reason `suppressed` (not leased,
   * even with `leaseTo`). The result's `suppressed` lists them.
   */
  checkSuppression?: boolean
  /**
   * Store it already leased to this owner (status `sending`), for `now` deliveries that the
   * caller attempts at once.
   */
  leaseTo?: { owner: string; leaseMs: number }
  /** The template (and its version) it was rendered from, or null/absent. */
  template?: TemplateRef | null
}

/**
 * A caller's open database transaction to enqueue in (the "transactional outbox"): the
 * messages commit or roll back with the caller's own writes. Structural, so the core depends
 * on no driver: for PostgreSQL, a `pg` client (`Client` or `PoolClient`) inside `BEGIN`.
 */
export interface ExternalTransaction {
  query(text: string, values?: unknown[]): Promise<unknown>
}

/** Options of {@link Store.enqueue}. */
export interface EnqueueOptions {
  /** Enqueue inside this open transaction of the caller's; the store neither commits nor rolls back. */
  transaction?: ExternalTransaction
}

/** What {@link Store.enqueue} returns for each message, in order. */
export interface EnqueueResult {
  id: string
  messageId: string
  /** True when the idempotency key matched an earlier message and nothing was stored. */
  duplicate: boolean
  /** Recipients found on the suppression list and stored failed (none for a duplicate). */
  suppressed: string[]
}

/** Arguments of {@link Store.claim}. */
export interface ClaimRequest {
  /** Unique id of the claiming worker, recorded as the lease owner. */
  owner: string
  /** Most messages to lease. */
  limit: number
  /** Lease duration; renew it with {@link Store.renewLeases} before it ends. */
  leaseMs: number
}

/**
 * A leased message, with what a worker needs to deliver it. Its times are in the claiming
 * process's clock: the store measures them against its own clock at the claim and converts
 * them, so a worker whose clock is off compares them safely with its `Date.now()`.
 */
export interface ClaimedMessage {
  id: string
  messageId: string
  /** Envelope sender. */
  from: string
  /** The recipients not yet settled: only these are tried. */
  pendingRecipients: string[]
  /** Recipients that already failed for good in earlier attempts. */
  failedRecipients: number
  /** The stored bytes, or null if the row is damaged (the worker fails such a message). */
  raw: Buffer | null
  priority: Priority
  /** Delivery attempts made so far. */
  attempts: number
  /** Temporary failures so far that count toward the backoff (upstream outages do not). */
  backoffStep: number
  createdAt: Date
  /** After this, a temporary failure fails the message as `expired`. */
  expiresAt: Date
  /** As given at enqueue; null for a message stored before it was recorded (read it from `raw`). */
  eightBit: boolean | null
  /** As given at enqueue; null for a message stored before it was recorded. */
  smtpUtf8: boolean | null
  /** Its tags (routes match on them). */
  tags: string[]
  /** The upstream named in its send options, or null (the routes decide). */
  upstream: string | null
}

/** The outcome for one recipient in one attempt. */
export interface RecipientOutcome {
  address: string
  /** `pending` means "try again later" (a temporary failure). */
  status: RecipientStatus
  /** The upstream's reply code, if any. */
  code: number | null
  /** The upstream's reply text, or the error. */
  reply: string
}

/** One entry of the attempt log. */
export interface AttemptRecord {
  /** Lease owner that made the attempt. */
  worker: string
  startedAt: Date
  durationMs: number
  /**
   * What happened, in one word:
   * `sent` (all accepted), `partial` (some settled, some not), `deferred`, `failed`,
   * `uncertain` (the final dot was written and no reply came; retried), `upstream-down`,
   * `misconfigured` (the upstream's TLS certificate or credentials are wrong; waits for a fix
   * without counting toward the backoff), `error` (an unexpected error handling this message),
   * `expired`, `captured`.
   */
  outcome: AttemptOutcome
  /** Summary of the error, if any. */
  error: string | null
  recipients: RecipientOutcome[]
  /** The named upstream the attempt used (`default` for the `upstream` setting); null if none. */
  upstream?: string | null
}

/** See {@link AttemptRecord.outcome}. */
export type AttemptOutcome =
  | 'sent'
  | 'partial'
  | 'deferred'
  | 'failed'
  | 'uncertain'
  | 'upstream-down'
  | 'misconfigured'
  | 'error'
  | 'expired'
  | 'captured'

/**
 * Arguments of {@link Store.complete}: the attempt and the state it leads to. Its times
 * (`attempt.startedAt`, `dueAt`) are in the caller's clock; a store whose clock is not the
 * caller's keeps them as durations from the caller's now (how long ago, how long until).
 */
export interface Completion {
  id: string
  owner: string
  attempt: AttemptRecord
  /** Recipients whose status changes (settled ones: `sent` or `failed`). */
  recipients: RecipientOutcome[]
  /** The message's next status. */
  status: 'sent' | 'failed' | 'deferred'
  /** For `deferred`: when to try again. */
  dueAt: Date | null
  /** Whether this attempt counts toward the backoff (false when the upstream was down). */
  countsTowardBackoff: boolean
  /** Deferred only because the upstream was down: woken by {@link Store.wakeUpstreamWaiters}. */
  waitingForUpstream: boolean
  /** Why the message failed or was deferred, for listings: `expired`, `rejected`, … */
  reason: string | null
  /** Delivered to the capture upstream rather than sent. */
  captured: boolean
}

/** A message as shown to operators. */
export interface MessageSummary {
  id: string
  messageId: string
  status: MessageStatus
  priority: Priority
  from: string
  recipients: string[]
  subject: string | null
  tags: string[]
  size: number
  attempts: number
  createdAt: Date
  /** When it is (or was) due next; null when finished or held. */
  dueAt: Date | null
  expiresAt: Date
  /** Why it failed or was deferred. */
  reason: string | null
  lastError: string | null
  captured: boolean
  idempotencyKey: string | null
  /** The upstream named in its send options, or null. */
  upstream: string | null
  leaseOwner: string | null
  leaseExpiresAt: Date | null
  finishedAt: Date | null
}

/** A message with its recipients and attempt log. */
export interface MessageDetail extends MessageSummary {
  recipientStatus: {
    address: string
    status: RecipientStatus
    code: number | null
    reply: string | null
  }[]
  attemptLog: AttemptRecord[]
  /** The template (and version) it was rendered from at enqueue; null when none. */
  template: TemplateRef | null
}

/** Which messages a listing or a bulk action applies to. Every given criterion must match. */
export interface MessageFilter {
  /** Any of these statuses. */
  status?: readonly MessageStatus[]
  /** A recipient address (case-insensitive), or `@domain` for any recipient at that domain. */
  to?: string
  /** The envelope sender (case-insensitive). */
  from?: string
  /** Has this tag. */
  tag?: string
  /** Created at or after this time. */
  since?: Date
  /** Created before this time. */
  before?: Date
  /** Subject contains this text (case-insensitive). */
  subject?: string
}

/** Either some messages by id, or every message matching a filter. */
export type MessageSelector = { ids: readonly string[] } | { filter: MessageFilter }

/** One page of a listing. */
export interface PageRequest {
  /** Most messages on the page. */
  limit: number
  /** Where the previous page ended; omit for the first page. */
  cursor?: string | null
}

/** A page of messages and where the next one starts. */
export interface MessagePage {
  messages: MessageSummary[]
  nextCursor: string | null
}

/** The queue at a glance. */
export interface QueueStats {
  counts: Record<MessageStatus, number>
  /** Creation time of the oldest message still waiting (queued, deferred or sending). */
  oldestWaitingAt: Date | null
  sentLastHour: number
  sentLastDay: number
  failedLastHour: number
  failedLastDay: number
  /**
   * What is wrong with the upstream, as the attempt log tells every process: the newest attempt
   * that found it unreachable or misconfigured, when no attempt delivered anything after it.
   */
  upstreamProblem: UpstreamProblem | null
  /**
   * Why the store itself may lose acknowledged mail, when it can tell and it may (a Redis
   * server without a synced append-only file). Absent for stores that cannot.
   */
  durabilityWarning?: string
}

/** See {@link QueueStats.upstreamProblem}. */
export interface UpstreamProblem {
  /** `misconfigured`: waiting will not fix it (TLS certificate, credentials); `error` says how. */
  kind: 'unreachable' | 'misconfigured'
  /** When the attempt that found it started. */
  at: Date
  error: string
}

/** Turns the attempt row behind {@link QueueStats.upstreamProblem} into it. */
export function toUpstreamProblem(
  row: Readonly<Record<string, unknown>> | undefined,
  at: (value: unknown) => Date,
): UpstreamProblem | null {
  if (!row) return null
  return {
    kind: row.outcome === 'misconfigured' ? 'misconfigured' : 'unreachable',
    at: at(row.t),
    error: typeof row.error === 'string' ? row.error : 'upstream unreachable',
  }
}

/** Arguments of {@link Store.activity}. */
export interface ActivityRequest {
  since: Date
  /** Width of one bucket, e.g. 60_000 for a count per minute. */
  bucketMs: number
}

/** Attempts in one time bucket, by what they led to. */
export interface ActivityBucket {
  /** Start of the bucket (a multiple of `bucketMs` since the epoch). */
  at: Date
  /** Attempts that delivered (or captured) the message. */
  sent: number
  /** Attempts that failed for good (rejected, expired, damaged). */
  failed: number
  /** Every other attempt: temporary failures, upstream outages, partial deliveries. */
  deferred: number
}

/** What {@link Store.activity} returns. */
export interface Activity {
  /** Buckets that saw attempts, oldest first; empty buckets are left out. */
  buckets: ActivityBucket[]
  /** Start of the newest attempt that delivered something. */
  lastSuccessAt: Date | null
  /** The newest attempt that recorded an error. */
  lastError: { at: Date; error: string } | null
}

/** Attempt outcomes counted as `sent` and as `failed` in {@link ActivityBucket}. */
export const SENT_OUTCOMES: readonly AttemptOutcome[] = ['sent', 'captured']
export const FAILED_OUTCOMES: readonly AttemptOutcome[] = ['failed', 'expired']

/**
 * Adds up (bucket, outcome, n) rows, as either database driver returns them (numbers or
 * numeric strings), into {@link ActivityBucket}s.
 */
export function toActivityBuckets(
  rows: readonly Readonly<Record<string, unknown>>[],
): ActivityBucket[] {
  const byStart = new Map<number, ActivityBucket>()
  for (const row of rows) {
    const start = Number(row.bucket)
    const n = Number(row.n)
    let bucket = byStart.get(start)
    if (!bucket) {
      bucket = { at: new Date(start), sent: 0, failed: 0, deferred: 0 }
      byStart.set(start, bucket)
    }
    const outcome = String(row.outcome) as AttemptOutcome
    if (SENT_OUTCOMES.includes(outcome)) bucket.sent += n
    else if (FAILED_OUTCOMES.includes(outcome)) bucket.failed += n
    else bucket.deferred += n
  }
  return [...byStart.values()].sort((a, b) => a.at.getTime() - b.at.getTime())
}

/**
 * Orders two event log positions: every backend writes them as integers joined by `-` (SQL
 * stores one integer, Redis stream ids two), compared part by part.
 */
export function comparePositions(a: string, b: string): number {
  const x = a.split('-').map(BigInt)
  const y = b.split('-').map(BigInt)
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0n) - (y[i] ?? 0n)
    if (d !== 0n) return d < 0n ? -1 : 1
  }
  return 0
}
