import { ConfigError, StoreUnavailableError } from '../../errors.js'
import type { Logger } from '../../logger.js'
import { silentLogger } from '../../logger.js'
import { MESSAGE_STATUSES, type MessageStatus, type RecipientStatus } from '../../message/types.js'
import { decodeCursor, encodeCursor } from '../cursor.js'
import { isDeadLocalOwner } from '../lease-owner.js'
import { priorityFromRank } from '../priority-rank.js'
import {
  toActivityBuckets,
  toUpstreamProblem,
  type AttemptRecord,
  type ClaimedMessage,
  type Completion,
  type EnqueueResult,
  type MessageSummary,
  type NewMessage,
  type RecipientOutcome,
  type Store,
  type SuppressionReason,
} from '../store.js'
import { chunked, normalisedAddresses } from '../address-chunks.js'
import { suppressionReply } from '../suppression-reply.js'
import { createBatcher } from './batcher.js'
import type { CompletionRow, SqlDialect } from './dialect.js'
import type { Query, Row, SqlDriver, SqlTransaction } from './driver.js'
import { filterCondition, selectorCondition } from './filter.js'
import { createShaping } from './shaping.js'
import { createSuppressions } from './suppressions.js'
import { createEventLog } from './events.js'
import { createTemplates, templateRefOf } from './templates.js'
import { createSubmissions } from './submissions.js'

/** Options of {@link createSqlStore}. */
export interface SqlStoreOptions {
  driver: SqlDriver
  dialect: SqlDialect
  logger?: Logger
}

/** Most addresses looked up on the suppression list in one statement. */
const SUPPRESSION_LOOKUP_CHUNK = 500
/** Most outcomes written in one statement. */
const MAX_COMPLETIONS_PER_BATCH = 200
/** How often a claim pass looks for dead lease owners on this host. */
const DEAD_OWNER_CHECK_MS = 1000
/** How often counts of finished messages older than a day are forgotten. */
const PRUNE_COUNTS_MS = 3_600_000
/** Longest `close()` waits for outcomes still being written. */
const CLOSE_FLUSH_MS = 10_000

/** Runs statements in order; resolves with the rows of the last. */
async function runAll(tx: SqlTransaction, queries: readonly Query[]): Promise<Row[]> {
  let rows: Row[] = []
  for (const query of queries) rows = await tx.query(query)
  return rows
}

/** Runs statements in order; resolves with the rows of all of them. */
async function runCollect(tx: SqlTransaction, queries: readonly Query[]): Promise<Row[]> {
  const rows: Row[] = []
  for (const query of queries) rows.push(...(await tx.query(query)))
  return rows
}

const ids = (rows: readonly Row[]): string[] => rows.map((r) => String(r.id))

/**
 * The queue engine: every algorithm of the {@link Store} contract, written once for every SQL
 * backend. The backend supplies a driver (connections, transactions, group commit) and a
 * dialect (the SQL); see docs/adding-a-backend.md.
 */
export function createSqlStore(options: SqlStoreOptions): Store {
  const { driver, dialect } = options
  const codec = dialect.codec
  const log = options.logger ?? silentLogger
  const listeners = new Set<() => void>()
  let stopForeign: (() => void) | null = null
  let closed = false
  let lastDeadOwnerCheck = 0
  let lastPrune = 0

  function assertOpen(): void {
    if (closed) throw new StoreUnavailableError(`The ${dialect.kind} store is closed.`)
  }

  /** Runs one public operation: refused once closed, driver errors turned into store errors. */
  async function op<T>(work: () => Promise<T>): Promise<T> {
    assertOpen()
    try {
      return await work()
    } catch (error) {
      throw driver.failure(error)
    }
  }

  const notifyLocal = (): void => {
    for (const listener of listeners) listener()
  }

  /** A write of one or more statements: alone when it is one, else in a transaction. */
  function write(queries: readonly Query[]): Promise<Row[]> {
    if (queries.length === 1) return driver.write(queries[0]!)
    return driver.transaction((tx) => runAll(tx, queries))
  }

  /** A write of several statements whose rows together are the result. */
  function writeCollect(queries: readonly Query[]): Promise<Row[]> {
    if (queries.length === 1) return driver.write(queries[0]!)
    return driver.transaction((tx) => runCollect(tx, queries))
  }

  /** A change that may make messages due: other processes' workers are woken too. */
  async function writeAndWake(queries: readonly Query[]): Promise<Row[]> {
    const wake = dialect.notify()
    const rows =
      wake.length === 0
        ? await write(queries)
        : await driver.transaction(async (tx) => {
            const result = await runAll(tx, queries)
            if (result.length > 0) await runAll(tx, wake)
            return result
          })
    if (rows.length > 0) notifyLocal()
    return rows
  }

  /** Which messages of a batch to store: a key's first occurrence; later ones take its result. */
  function planInsert(messages: readonly NewMessage[]) {
    const firstWithKey = new Map<string, NewMessage>()
    const fresh: NewMessage[] = []
    for (const m of messages) {
      if (m.idempotencyKey === null) fresh.push(m)
      else if (!firstWithKey.has(m.idempotencyKey)) {
        firstWithKey.set(m.idempotencyKey, m)
        fresh.push(m)
      }
    }
    return { firstWithKey, fresh, keyed: firstWithKey.size > 0 }
  }

  /** The result of each message of a batch, once the insert statements said which they stored. */
  async function insertResults(
    tx: SqlTransaction,
    messages: readonly NewMessage[],
    plan: ReturnType<typeof planInsert>,
    stored: ReadonlySet<string>,
  ): Promise<EnqueueResult[]> {
    // Keys already taken, by an earlier message or by a transaction that committed meanwhile.
    const taken = plan.fresh.filter((m) => !stored.has(m.id) && m.idempotencyKey !== null)
    const existing = new Map<string, EnqueueResult>()
    if (taken.length > 0) {
      const keys = taken.map((m) => m.idempotencyKey!)
      for (const row of await tx.query(dialect.findByIdempotencyKeys(keys))) {
        existing.set(String(row.idempotency_key), {
          id: String(row.id),
          messageId: String(row.message_id),
          duplicate: true,
          suppressed: [],
        })
      }
    }
    return messages.map((m): EnqueueResult => {
      const first = m.idempotencyKey === null ? m : plan.firstWithKey.get(m.idempotencyKey)!
      if (stored.has(first.id)) {
        return { id: first.id, messageId: first.messageId, duplicate: first !== m, suppressed: [] }
      }
      const earlier = m.idempotencyKey === null ? undefined : existing.get(m.idempotencyKey)
      if (!earlier) {
        throw new StoreUnavailableError(
          `The ${dialect.kind} store neither stored message ${m.id} nor found it by its idempotency key.`,
        )
      }
      return earlier
    })
  }

  /**
   * Looks up the recipients of `checking` on the suppression list, in the enqueue's
   * transaction: per message id, those found, with the reply they are failed with.
   */
  async function suppressedAmong(
    tx: SqlTransaction,
    checking: readonly NewMessage[],
  ): Promise<Map<string, { address: string; reply: string }[]>> {
    const entries = new Map<string, Row>()
    const addresses = normalisedAddresses(checking.flatMap((m) => m.envelope.to))
    for (const chunk of chunked(addresses, SUPPRESSION_LOOKUP_CHUNK)) {
      for (const row of await tx.query(dialect.findSuppressions(chunk))) {
        entries.set(String(row.address), row)
      }
    }
    const hits = new Map<string, { address: string; reply: string }[]>()
    if (entries.size === 0) return hits
    for (const m of checking) {
      const found = m.envelope.to.flatMap((address) => {
        const row = entries.get(address.toLowerCase())
        if (!row) return []
        const reply = typeof row.reply === 'string' ? row.reply : null
        return [
          {
            address,
            reply: suppressionReply({ reason: String(row.reason) as SuppressionReason, reply }),
          },
        ]
      })
      if (found.length > 0) hits.set(m.id, found)
    }
    return hits
  }

  /** The statements that settle the suppressed recipients of the messages stored. */
  function settleQueries(
    settle: NonNullable<SqlDialect['settleSuppressed']>,
    fresh: readonly NewMessage[],
    hits: ReadonlyMap<string, { address: string; reply: string }[]>,
    inserted: ReadonlySet<string>,
  ): Query[] {
    const mine = fresh.filter((m) => inserted.has(m.id) && hits.has(m.id))
    if (mine.length === 0) return []
    return settle({
      recipients: mine.flatMap((m) => hits.get(m.id)!.map((r) => ({ id: m.id, ...r }))),
      failMessages: mine
        .filter((m) => {
          const found = new Set(hits.get(m.id)!.map((r) => r.address))
          return m.envelope.to.every((to) => found.has(to))
        })
        .map((m) => ({ id: m.id, error: hits.get(m.id)![0]!.reply })),
    })
  }

  /** Ends the leases of this host's dead workers, so that their messages go out now. */
  async function takeOverDeadOwners(): Promise<void> {
    const now = Date.now()
    if (now - lastDeadOwnerCheck < DEAD_OWNER_CHECK_MS) return
    lastDeadOwnerCheck = now
    const dead = (await driver.query(dialect.leaseOwners()))
      .map((r) => String(r.owner))
      .filter(isDeadLocalOwner)
    if (dead.length === 0) return
    const taken = await driver.write(dialect.expireLeasesOf(dead))
    log.info(
      { owners: dead.slice(0, 5), messages: taken.length },
      'took over the leases of workers on this host that are gone',
    )
  }

  let completionSeq = 0
  const completions = createBatcher<CompletionRow, boolean>({
    maxBatch: MAX_COMPLETIONS_PER_BATCH,
    schedule: driver.groupsCommits ? 'microtask' : 'immediate',
    async write(batch) {
      const applied = new Set(ids(await writeCollect(dialect.complete(batch))))
      return batch.map((c) => applied.has(c.id))
    },
  })

  function toCompletionRow(c: Completion, ord: number): CompletionRow {
    const now = Date.now()
    return {
      ord,
      id: c.id,
      owner: c.owner,
      worker: c.attempt.worker,
      startedAgoMs: Math.max(0, now - c.attempt.startedAt.getTime()),
      durationMs: Math.round(c.attempt.durationMs),
      outcome: c.attempt.outcome,
      error: c.attempt.error,
      attemptRecipients: c.attempt.recipients,
      upstream: c.attempt.upstream ?? null,
      recipients: c.recipients.map((r) => ({
        address: r.address,
        status: r.status,
        code: r.code,
        reply: r.reply,
      })),
      status: c.status,
      delayMs: c.status === 'deferred' && c.dueAt ? Math.max(0, c.dueAt.getTime() - now) : 0,
      backoffIncrement: c.countsTowardBackoff ? 1 : 0,
      waitingUpstream: c.waitingForUpstream,
      reason: c.reason,
      captured: c.captured,
    }
  }

  function toSummary(row: Row): MessageSummary {
    const text = (v: unknown) => (typeof v === 'string' ? v : null)
    const time = (v: unknown) => {
      const ms = codec.time(v)
      return ms === null ? null : new Date(ms)
    }
    return {
      id: String(row.id),
      messageId: String(row.message_id),
      status: row.status as MessageStatus,
      priority: priorityFromRank(Number(row.priority)),
      from: String(row.mail_from),
      recipients: codec.json<string[]>(row.recipients),
      subject: text(row.subject),
      tags: codec.json<string[]>(row.tags),
      size: Number(row.size),
      attempts: Number(row.attempts),
      createdAt: time(row.created_at)!,
      dueAt: time(row.due_at),
      expiresAt: time(row.expires_at)!,
      reason: text(row.reason),
      lastError: text(row.last_error),
      captured: codec.flag(row.captured),
      idempotencyKey: text(row.idempotency_key),
      upstream: text(row.upstream),
      leaseOwner: text(row.lease_owner),
      leaseExpiresAt: time(row.lease_expires_at),
      finishedAt: time(row.finished_at),
    }
  }

  /**
   * Stores new messages within `tx` (see Store.enqueue); `stored` is how many were inserted.
   * Also used inside the transaction that takes SQL submissions.
   */
  function enqueueWork(messages: readonly NewMessage[]) {
    const plan = planInsert(messages)
    const queries = dialect.insertMessages(plan.fresh)
    let stored = 0
    // The engine looks the recipients up where the dialect's insert does not.
    const settle = dialect.settleSuppressed?.bind(dialect)
    const checking = settle ? plan.fresh.filter((m) => m.checkSuppression) : []
    const work = async (tx: SqlTransaction) => {
      const hits =
        checking.length > 0
          ? await suppressedAmong(tx, checking)
          : new Map<string, { address: string; reply: string }[]>()
      const rows = await runCollect(tx, queries)
      const inserted = new Set(ids(rows))
      stored = inserted.size
      if (settle && hits.size > 0) {
        await runAll(tx, settleQueries(settle, plan.fresh, hits, inserted))
      }
      const suppressed = new Map<string, string[]>()
      for (const [id, found] of hits)
        suppressed.set(
          id,
          found.map((r) => r.address),
        )
      for (const row of rows) {
        if (typeof row.suppressed !== 'string') continue
        const id = String(row.id)
        suppressed.set(id, [...(suppressed.get(id) ?? []), row.suppressed])
      }
      return (await insertResults(tx, messages, plan, inserted)).map((r) => ({
        ...r,
        suppressed: r.duplicate ? [] : (suppressed.get(r.id) ?? []),
      }))
    }
    return { work, plan, queries, checking, stored: () => stored }
  }

  const store: Store = {
    kind: dialect.kind,
    ...createShaping({ driver, dialect, op }),
    ...createSuppressions({ driver, dialect, op }),
    ...createEventLog({ driver, dialect, op }),
    ...createTemplates({ driver, dialect, op }),
    ...createSubmissions({
      driver,
      sql: dialect.submissions,
      codec,
      op,
      insert: (tx, messages) => enqueueWork(messages).work(tx),
      woken: notifyLocal,
    }),

    enqueue: (messages, enqueueOptions) =>
      op(async () => {
        if (messages.length === 0) return []
        const { work, plan, queries, checking, stored } = enqueueWork(messages)
        const external = enqueueOptions?.transaction
        let results: EnqueueResult[]
        if (external) {
          if (!driver.inExternalTransaction) {
            throw new ConfigError(
              'options.db',
              `The ${dialect.kind} store cannot enqueue inside your own database transaction; \`db\` needs the PostgreSQL or MariaDB store.`,
            )
          }
          results = await driver.inExternalTransaction(external, work)
        } else if (queries.length === 1 && !plan.keyed && checking.length === 0) {
          // One statement is atomic on its own: no BEGIN and COMMIT around it.
          results = await work({ query: (q) => driver.write(q) })
        } else {
          results = await driver.transaction(work)
        }
        // Inside the caller's transaction nothing is visible yet: workers learn at its commit.
        if (stored() > 0 && !external) notifyLocal()
        return results
      }),

    claim: ({ owner, limit, leaseMs }) =>
      op(async () => {
        if (limit <= 0) return []
        await takeOverDeadOwners()
        let rows: Row[]
        if (dialect.claimWithRows) {
          rows = await driver.write(dialect.claimWithRows({ owner, limit, leaseMs }))
        } else {
          const claimed = ids(await driver.write(dialect.claim({ owner, limit, leaseMs })))
          if (claimed.length === 0) return []
          rows = await driver.query(dialect.claimedRows(claimed))
        }
        // Into this process's clock: taken after the reply, so a slow round trip makes a
        // message expire a little late here, never early.
        const local = Date.now()
        return rows.map((row): ClaimedMessage => ({
          id: String(row.id),
          messageId: String(row.message_id),
          from: String(row.mail_from),
          pendingRecipients: codec.list(row.pending),
          failedRecipients: Number(row.failed),
          raw: Buffer.isBuffer(row.raw) ? row.raw : null,
          priority: priorityFromRank(Number(row.priority)),
          attempts: Number(row.attempts),
          backoffStep: Number(row.backoff_step),
          createdAt: new Date(local - Number(row.created_ago_ms)),
          expiresAt: new Date(local + Number(row.expires_in_ms)),
          eightBit: row.eight_bit == null ? null : codec.flag(row.eight_bit),
          smtpUtf8: row.smtputf8 == null ? null : codec.flag(row.smtputf8),
          tags: codec.json<string[]>(row.tags),
          upstream: typeof row.upstream === 'string' ? row.upstream : null,
        }))
      }),

    renewLeases: (owner, leased, leaseMs) =>
      op(async () => {
        if (leased.length === 0) return []
        return ids(await driver.write(dialect.renewLeases({ owner, ids: leased, leaseMs })))
      }),

    releaseLeases: (owner, leased, delaysMs) =>
      op(async () => {
        if (leased.length === 0) return
        // Whole ms, one per id (a missing one is none); no delay at all is the plain release.
        const delays = leased.map((_, i) => Math.max(0, Math.round(delaysMs?.[i] ?? 0)))
        const later = delays.some((d) => d > 0) ? delays : null
        // Woken even when due later: a worker sleeping until a later due time must wake sooner.
        await writeAndWake([dialect.releaseLeases({ owner, ids: leased, delaysMs: later })])
      }),

    complete: (completion) =>
      op(() => completions.add(toCompletionRow(completion, completionSeq++))),

    msUntilNextDue: () =>
      op(async () => {
        const ms = (await driver.query(dialect.msUntilNextDue()))[0]?.ms
        return ms === null || ms === undefined ? null : Math.max(0, Math.ceil(Number(ms)))
      }),

    wakeUpstreamWaiters: () =>
      op(async () => (await writeAndWake([dialect.wakeUpstreamWaiters()])).length),

    expireOverdue: () => op(async () => (await write(dialect.expireOverdue())).length),

    getMessage: (id) =>
      op(async () => {
        const row = (await driver.query(dialect.messageRow(id)))[0]
        if (!row) return null
        const [recipients, attempts] = await Promise.all([
          driver.query(dialect.recipientRows(id)),
          driver.query(dialect.attemptRows(id)),
        ])
        return {
          ...toSummary(row),
          recipientStatus: recipients.map((r) => ({
            address: String(r.address),
            status: r.status as RecipientStatus,
            code: r.code === null || r.code === undefined ? null : Number(r.code),
            reply: typeof r.reply === 'string' ? r.reply : null,
          })),
          attemptLog: attempts.map((r): AttemptRecord => ({
            worker: String(r.worker),
            startedAt: new Date(codec.time(r.started_at)!),
            durationMs: Number(r.duration_ms),
            outcome: r.outcome as AttemptRecord['outcome'],
            error: typeof r.error === 'string' ? r.error : null,
            recipients: codec.json<RecipientOutcome[]>(r.recipients),
            upstream: typeof r.upstream === 'string' ? r.upstream : null,
          })),
          template: templateRefOf(codec, row.template),
        }
      }),

    getRaw: (id) =>
      op(async () => {
        const row = (await driver.query(dialect.raw(id)))[0]
        return row && Buffer.isBuffer(row.raw) ? row.raw : null
      }),

    countByStatus: () =>
      op(async () => {
        const counts = Object.fromEntries(MESSAGE_STATUSES.map((s) => [s, 0])) as Record<
          MessageStatus,
          number
        >
        for (const row of await driver.query(dialect.statusCounts())) {
          counts[row.status as MessageStatus] = Number(row.n)
        }
        return counts
      }),

    listMessages: (filter, page) =>
      op(async () => {
        const rows = await driver.query(
          dialect.listPage({
            where: filterCondition(dialect.filter, filter),
            statuses: filter.status ?? [],
            after: page.cursor ? decodeCursor(page.cursor) : null,
            limit: page.limit + 1,
          }),
        )
        const shown = rows.slice(0, page.limit)
        const last = shown.at(-1)
        return {
          messages: shown.map(toSummary),
          nextCursor:
            rows.length > page.limit && last
              ? encodeCursor(codec.time(last.created_at)!, String(last.id))
              : null,
        }
      }),

    hold: (selector) =>
      op(async () => ids(await write([dialect.hold(selectorCondition(dialect.filter, selector))]))),

    unhold: (selector) =>
      op(async () =>
        ids(await writeAndWake([dialect.unhold(selectorCondition(dialect.filter, selector))])),
      ),

    retry: (selector, { maxAgeMs }) =>
      op(async () => {
        const where = selectorCondition(dialect.filter, selector)
        // Both halves in one transaction: an operator's retry is all or nothing.
        const changed = await driver.transaction(async (tx) => {
          const deferred = ids(await tx.query(dialect.retryDeferred(where)))
          const failed = ids(await runAll(tx, dialect.requeueFailed({ where, maxAgeMs })))
          const all = [...deferred, ...failed]
          if (all.length > 0) await runAll(tx, dialect.notify())
          return all
        })
        if (changed.length > 0) notifyLocal()
        return changed
      }),

    remove: (selector) =>
      op(async () =>
        // The delete and its events commit together; a purge writes none (see purge).
        driver.transaction(async (tx) => {
          const removed = ids(
            await tx.query(dialect.remove(selectorCondition(dialect.filter, selector))),
          )
          if (removed.length > 0) await tx.query(dialect.logDeleted(removed))
          return removed
        }),
      ),

    purge: ({ finishedBefore, statuses }) =>
      op(async () => {
        if (statuses.length === 0) return 0
        let purged = 0
        // In slices, so a purge of millions never holds a lock for long.
        for (let round = 0; round < 100_000; round++) {
          // The messages' events go with them, in the same transaction.
          const deleted = await driver.transaction(async (tx) => {
            const gone = ids(await tx.query(dialect.purgeSlice({ statuses, finishedBefore })))
            if (gone.length > 0) await tx.query(dialect.deleteEventsOf(gone))
            return gone.length
          })
          purged += deleted
          if (deleted === 0) break
        }
        return purged
      }),

    stats: () =>
      op(async () => {
        if (Date.now() - lastPrune > PRUNE_COUNTS_MS) {
          lastPrune = Date.now()
          await driver.write(dialect.pruneRecentCounts())
        }
        const [counts, recent, problem] = await Promise.all([
          store.countByStatus(),
          driver.query(dialect.recentCounts()),
          driver.query(dialect.upstreamProblem()),
        ])
        const r = recent[0] ?? {}
        const oldest = codec.time(r.oldest)
        return {
          counts,
          oldestWaitingAt: oldest === null ? null : new Date(oldest),
          sentLastHour: Number(r.sent_hour ?? 0),
          sentLastDay: Number(r.sent_day ?? 0),
          failedLastHour: Number(r.failed_hour ?? 0),
          failedLastDay: Number(r.failed_day ?? 0),
          upstreamProblem: toUpstreamProblem(problem[0], (v) => new Date(codec.time(v)!)),
          ...(driver.durabilityWarning ? { durabilityWarning: driver.durabilityWarning } : {}),
        }
      }),

    activity: ({ since, bucketMs }) =>
      op(async () => {
        const [rows, success, error] = await Promise.all([
          driver.query(dialect.activityBuckets({ since, bucketMs })),
          driver.query(dialect.lastSuccess()),
          driver.query(dialect.lastError()),
        ])
        const successAt = success[0] ? codec.time(success[0].t) : null
        return {
          buckets: toActivityBuckets(rows),
          lastSuccessAt: successAt === null ? null : new Date(successAt),
          lastError: error[0]
            ? { at: new Date(codec.time(error[0].t)!), error: String(error[0].error) }
            : null,
        }
      }),

    onEnqueue(listener) {
      listeners.add(listener)
      stopForeign ??= driver.onForeignCommit(notifyLocal)
      return () => {
        listeners.delete(listener)
        if (listeners.size === 0 && stopForeign) {
          stopForeign()
          stopForeign = null
        }
      }
    },

    async close() {
      if (closed) return
      // Outcomes already handed over are written first: each is a delivery that happened.
      const deadline = Date.now() + CLOSE_FLUSH_MS
      while (completions.pending > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
      closed = true
      stopForeign?.()
      stopForeign = null
      listeners.clear()
      await driver.close()
    },
  }
  return store
}
