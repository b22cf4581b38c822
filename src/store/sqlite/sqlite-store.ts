import Database from 'better-sqlite3'
import { existsSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { ConfigError, ErrorCodes, OutboxError, StoreUnavailableError } from '../../errors.js'
import { MESSAGE_STATUSES, type MessageStatus, type RecipientStatus } from '../../message/types.js'
import { priorityFromRank, priorityRank } from '../priority-rank.js'
import { toActivityBuckets, toUpstreamProblem } from '../store.js'
import type {
  Activity,
  ActivityRequest,
  AttemptRecord,
  MessageFilter,
  MessagePage,
  MessageSelector,
  MessageSummary,
  PageRequest,
  QueueStats,
  ClaimedMessage,
  ClaimRequest,
  Completion,
  EnqueueOptions,
  EnqueueResult,
  MessageDetail,
  NewMessage,
  RecipientOutcome,
  Store,
} from '../store.js'
import { watchForeignCommits } from './foreign-commits.js'
import { migrateSqlite } from './migrate.js'
import { decodeCursor, encodeCursor } from '../cursor.js'
import { filterCondition, selectorCondition } from './filter-sql.js'
import { SQL, SUMMARY_COLUMNS } from './queries.js'

/** Options of the SQLite store. */
export interface SqliteStoreOptions {
  /** Path of the database file, or `:memory:`. Its folder must exist. */
  path: string
  /**
   * What to do when there is no queue at `path` yet: create it, or refuse (commands that
   * read or change an existing queue, where a typo in the path must not look like an empty
   * queue).
   * @default 'create'
   */
  ifMissing?: 'create' | 'refuse'

  /**
   * How long a write waits for another process holding the database lock.
   * @default 5000
   */
  busyTimeoutMs?: number
}

type Row = Record<string, unknown>

/** A boolean as SQLite stores it; NULL when a caller (an older one) did not say. */
const flag = (value: boolean | undefined): number | null =>
  value === undefined ? null : Number(value)

interface PendingWrite {
  run: () => unknown
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
}

/**
 * Opens (creating and migrating if needed) a SQLite queue.
 *
 * Durability: WAL with `synchronous=FULL`, so a resolved `enqueue` survives power loss.
 * Throughput comes from group commit instead: writes requested in the same turn of the event
 * loop share one transaction and one fsync, each in its own savepoint so that one bad write
 * fails alone.
 */
/** The SQLite store, with diagnostics used by tests and benchmarks. */
export interface SqliteStore extends Store {
  /** Transactions committed by group commit so far. */
  readonly commits: number
  /** Reads a pragma on the store's own connection (e.g. `synchronous`). */
  pragma(name: string): unknown
}

/**
 * Refuses a path whose folder is missing (a typo must not create a tree of folders) and,
 * unless asked to create it, a database file that does not exist.
 */
function checkLocation(path: string, ifMissing: 'create' | 'refuse'): void {
  if (existsSync(path)) return
  if (ifMissing === 'refuse') {
    throw new ConfigError(
      'store',
      `There is no Outbox queue at ${path}: check the store path (--store, OUTBOX_STORE); ` +
        '`outbox start`, `outbox worker` or `outbox migrate` create a new one.',
    )
  }
  if (!existsSync(dirname(path))) {
    throw new ConfigError(
      'store',
      `The folder ${dirname(path)} of the SQLite store does not exist: create it, or fix the store path (--store, OUTBOX_STORE).`,
    )
  }
}

function hasOutboxSchema(db: Database.Database): boolean {
  const sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'outbox_migrations'"
  return db.prepare(sql).get() !== undefined
}

/** A file SQLite cannot read as a database needs a person; anything else may pass. */
function openFailure(path: string, cause: unknown): StoreUnavailableError {
  const code = (cause as { code?: unknown }).code
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
    return new StoreUnavailableError(
      `${path} is not an Outbox database or is damaged (${(cause as Error).message}): ` +
        'restore it from a backup or move it aside, or fix the store path.',
      { cause, code: ErrorCodes.STORE_DAMAGED },
    )
  }
  return new StoreUnavailableError(
    `Cannot open the SQLite store at ${path}: ${(cause as Error).message}. ` +
      'Check that the file and its folder are writable by this user.',
    { cause },
  )
}

export function createSqliteStore(options: SqliteStoreOptions): SqliteStore {
  const path = options.path === ':memory:' ? options.path : resolve(options.path)
  if (path !== ':memory:') checkLocation(path, options.ifMissing ?? 'create')
  let db: Database.Database
  try {
    db = new Database(path)
    db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`)
    if (options.ifMissing === 'refuse' && !hasOutboxSchema(db)) {
      db.close()
      throw new ConfigError(
        'store',
        `${path} is a SQLite database but holds no Outbox queue; check the store path (--store, OUTBOX_STORE).`,
      )
    }
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = FULL')
    db.pragma('foreign_keys = ON')
    migrateSqlite(db)
  } catch (cause) {
    if (cause instanceof OutboxError) throw cause
    throw openFailure(path, cause)
  }

  const stmt = Object.fromEntries(
    Object.entries(SQL).map(([name, sql]) => [name, db.prepare(sql)]),
  ) as { [K in keyof typeof SQL]: Database.Statement }

  const listeners = new Set<() => void>()
  let stopWatching: (() => void) | null = null
  let closed = false
  let commits = 0
  let pending: PendingWrite[] = []

  function assertOpen(): void {
    if (closed) throw new StoreUnavailableError('The SQLite store is closed.')
  }

  function unavailable(cause: unknown): StoreUnavailableError {
    if (cause instanceof StoreUnavailableError) return cause
    return new StoreUnavailableError(
      `The SQLite store at ${path} failed: ${(cause as Error).message}`,
      { cause },
    )
  }

  /** Runs `fn` in a transaction of its own, right away. */
  function now<T>(fn: () => T): T {
    assertOpen()
    try {
      return db.transaction(fn).immediate()
    } catch (cause) {
      throw unavailable(cause)
    }
  }

  /** Queues `fn` for the next group commit. */
  function grouped<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolvePromise, reject) => {
      if (closed) return reject(new StoreUnavailableError('The SQLite store is closed.'))
      pending.push({ run: fn, resolve: resolvePromise as (v: unknown) => void, reject })
      if (pending.length === 1) setImmediate(flush)
    })
  }

  function flush(): void {
    const batch = pending
    pending = []
    if (batch.length === 0) return
    const results: { ok: boolean; value: unknown }[] = []
    try {
      db.transaction(() => {
        for (const write of batch) {
          try {
            // A nested transaction is a savepoint: a failed write rolls back alone.
            results.push({ ok: true, value: db.transaction(write.run)() })
          } catch (error) {
            results.push({ ok: false, value: error })
          }
        }
      }).immediate()
      commits++
    } catch (cause) {
      for (const write of batch) write.reject(unavailable(cause))
      return
    }
    batch.forEach((write, i) => {
      const result = results[i]!
      if (result.ok) write.resolve(result.value)
      else
        write.reject(result.value instanceof OutboxError ? result.value : unavailable(result.value))
    })
  }

  function notify(): void {
    for (const listener of listeners) listener()
  }

  function insertOne(message: NewMessage, seenKeys: Map<string, EnqueueResult>): EnqueueResult {
    if (message.idempotencyKey !== null) {
      const earlier =
        seenKeys.get(message.idempotencyKey) ??
        (stmt.findByIdempotencyKey.get(message.idempotencyKey) as Row | undefined)
      if (earlier) {
        const id = 'id' in earlier ? String(earlier.id) : ''
        const messageId =
          'messageId' in earlier ? String(earlier.messageId) : String(earlier.message_id)
        return { id, messageId, duplicate: true }
      }
    }
    const createdAt = Date.now()
    const dueAt = message.sendAt ? message.sendAt.getTime() : createdAt
    const leased = message.leaseTo
    stmt.insertMessage.run({
      id: message.id,
      messageId: message.messageId,
      status: leased ? 'sending' : 'queued',
      priority: priorityRank(message.priority),
      from: message.envelope.from,
      recipients: JSON.stringify(message.envelope.to),
      subject: message.subject,
      tags: JSON.stringify(message.tags),
      size: message.raw.length,
      idempotencyKey: message.idempotencyKey,
      createdAt,
      dueAt: leased ? null : dueAt,
      expiresAt: Math.max(dueAt, createdAt) + message.maxAgeMs,
      leaseOwner: leased ? leased.owner : null,
      leaseExpiresAt: leased ? createdAt + leased.leaseMs : null,
      eightBit: flag(message.eightBit),
      smtpUtf8: flag(message.smtpUtf8),
    })
    stmt.insertBody.run(message.id, message.raw)
    message.envelope.to.forEach((address, position) => {
      stmt.insertRecipient.run(message.id, position, address, createdAt)
    })
    for (const tag of message.tags) stmt.insertTag.run(tag, message.id)
    const result = { id: message.id, messageId: message.messageId, duplicate: false }
    if (message.idempotencyKey !== null) seenKeys.set(message.idempotencyKey, result)
    return result
  }

  function loadClaimed(id: string): ClaimedMessage {
    const row = stmt.claimedRow.get(id) as Row
    const pendingRecipients = (stmt.pendingRecipients.all(id) as Row[]).map((r) =>
      String(r.address),
    )
    return {
      id,
      messageId: String(row.message_id),
      from: String(row.mail_from),
      pendingRecipients,
      failedRecipients: Number((stmt.failedRecipientCount.get(id) as Row).n),
      raw: Buffer.isBuffer(row.raw) ? row.raw : null,
      priority: priorityFromRank(Number(row.priority)),
      attempts: Number(row.attempts),
      backoffStep: Number(row.backoff_step),
      createdAt: new Date(Number(row.created_at)),
      expiresAt: new Date(Number(row.expires_at)),
      eightBit: row.eight_bit === null ? null : row.eight_bit === 1,
      smtpUtf8: row.smtputf8 === null ? null : row.smtputf8 === 1,
    }
  }

  function toAttempt(row: Row): AttemptRecord {
    return {
      worker: String(row.worker),
      startedAt: new Date(Number(row.started_at)),
      durationMs: Number(row.duration_ms),
      outcome: row.outcome as AttemptRecord['outcome'],
      error: optionalText(row.error),
      recipients: JSON.parse(String(row.recipients)) as RecipientOutcome[],
    }
  }

  const optionalDate = (v: unknown): Date | null =>
    v === null || v === undefined ? null : new Date(Number(v))
  const optionalText = (v: unknown): string | null =>
    typeof v === 'string' ? v : v == null ? null : JSON.stringify(v)

  function toSummary(row: Row): MessageSummary {
    return {
      id: String(row.id),
      messageId: String(row.message_id),
      status: row.status as MessageStatus,
      priority: priorityFromRank(Number(row.priority)),
      from: String(row.mail_from),
      recipients: JSON.parse(String(row.recipients)) as string[],
      subject: optionalText(row.subject),
      tags: JSON.parse(String(row.tags)) as string[],
      size: Number(row.size),
      attempts: Number(row.attempts),
      createdAt: new Date(Number(row.created_at)),
      dueAt: optionalDate(row.due_at),
      expiresAt: new Date(Number(row.expires_at)),
      reason: optionalText(row.reason),
      lastError: optionalText(row.last_error),
      captured: row.captured === 1,
      idempotencyKey: optionalText(row.idempotency_key),
      leaseOwner: optionalText(row.lease_owner),
      leaseExpiresAt: optionalDate(row.lease_expires_at),
      finishedAt: optionalDate(row.finished_at),
    }
  }

  /** Runs an UPDATE or DELETE … RETURNING id on the selected messages, in one transaction. */
  function changeSelected(
    sql: string,
    selector: MessageSelector,
    leadingParams: unknown[] = [],
  ): string[] {
    const where = selectorCondition(selector)
    const statement = db.prepare(sql.replace('$WHERE', where.sql))
    return now(() =>
      (statement.all(...leadingParams, ...where.params) as Row[]).map((r) => String(r.id)),
    )
  }

  const store = {
    kind: 'sqlite',

    get commits() {
      return commits
    },

    pragma(name: string): unknown {
      return db.pragma(name, { simple: true })
    },

    async enqueue(
      messages: readonly NewMessage[],
      options?: EnqueueOptions,
    ): Promise<EnqueueResult[]> {
      if (options?.transaction) {
        throw new ConfigError(
          'options.db',
          'The SQLite store cannot enqueue inside your own database transaction; `db` needs the PostgreSQL store.',
        )
      }
      const results = await grouped(() => {
        const seen = new Map<string, EnqueueResult>()
        return messages.map((m) => insertOne(m, seen))
      })
      if (results.some((r) => !r.duplicate)) notify()
      return results
    },

    async claim({ owner, limit, leaseMs }: ClaimRequest): Promise<ClaimedMessage[]> {
      if (limit <= 0) return []
      return now(() => {
        const t = Date.now()
        const ids = (stmt.expiredLeaseIds.all(t, limit) as Row[]).map((r) => String(r.id))
        for (let rank = 0; rank <= 3 && ids.length < limit; rank++) {
          for (const r of stmt.claimableIds.all(rank, t, limit - ids.length) as Row[]) {
            ids.push(String(r.id))
          }
        }
        for (const id of ids) stmt.lease.run(owner, t + leaseMs, t, id)
        return ids.map(loadClaimed)
      })
    },

    async renewLeases(owner: string, ids: readonly string[], leaseMs: number): Promise<string[]> {
      if (ids.length === 0) return []
      return now(() => {
        const until = Date.now() + leaseMs
        return ids.filter((id) => stmt.renewLease.run(until, id, owner).changes === 1)
      })
    },

    async releaseLeases(owner: string, ids: readonly string[]): Promise<void> {
      if (ids.length === 0) return
      now(() => {
        const t = Date.now()
        for (const id of ids) stmt.release.run(t, t, id, owner)
      })
      notify()
    },

    complete(c: Completion): Promise<boolean> {
      return grouped(() => {
        const t = Date.now()
        const holder = stmt.leaseHolder.get(c.id) as Row | undefined
        if (!holder) return false
        const a = c.attempt
        stmt.insertAttempt.run(
          c.id,
          a.worker,
          a.startedAt.getTime(),
          Math.round(a.durationMs),
          a.outcome,
          a.error,
          JSON.stringify(a.recipients),
        )
        if (holder.status !== 'sending' || holder.lease_owner !== c.owner) return false
        for (const r of c.recipients) {
          stmt.updateRecipient.run(r.status, r.code, r.reply, t, c.id, r.address)
        }
        const finished = c.status === 'sent' || c.status === 'failed'
        stmt.finishAttempt.run({
          id: c.id,
          status: c.status,
          dueAt: c.status === 'deferred' ? (c.dueAt?.getTime() ?? t) : null,
          backoffIncrement: c.countsTowardBackoff ? 1 : 0,
          waitingUpstream: c.waitingForUpstream ? 1 : 0,
          reason: c.reason,
          lastError: a.error,
          captured: c.captured ? 1 : 0,
          now: t,
          finishedAt: finished ? t : null,
        })
        return true
      })
    },

    async msUntilNextDue(): Promise<number | null> {
      assertOpen()
      const due = (stmt.nextClaimableDue.get() as Row).t
      const lease = (stmt.nextLeaseExpiry.get() as Row).t
      const times = [due, lease].filter((v): v is number => typeof v === 'number')
      return times.length ? Math.max(0, Math.min(...times) - Date.now()) : null
    },

    async wakeUpstreamWaiters(): Promise<number> {
      const t = Date.now()
      const woken = now(() => stmt.wakeUpstreamWaiters.run(t, t).changes)
      if (woken > 0) notify()
      return woken
    },

    async expireOverdue(): Promise<number> {
      return now(() => {
        const t = Date.now()
        let expired = 0
        for (const r of stmt.overdueIds.all(t) as Row[]) {
          stmt.expireRecipients.run(t, r.id)
          expired += stmt.expireMessage.run(t, t, r.id).changes
        }
        return expired
      })
    },

    async getMessage(id: string): Promise<MessageDetail | null> {
      assertOpen()
      const row = stmt.messageRow.get(id) as Row | undefined
      if (!row) return null
      return {
        ...toSummary(row),
        recipientStatus: (stmt.recipientRows.all(id) as Row[]).map((r) => ({
          address: String(r.address),
          status: r.status as RecipientStatus,
          code: r.code === null ? null : Number(r.code),
          reply: optionalText(r.reply),
        })),
        attemptLog: (stmt.attemptRows.all(id) as Row[]).map(toAttempt),
      }
    },

    async getRaw(id: string): Promise<Buffer | null> {
      assertOpen()
      const row = stmt.raw.get(id) as Row | undefined
      return row && Buffer.isBuffer(row.raw) ? row.raw : null
    },

    async countByStatus(): Promise<Record<MessageStatus, number>> {
      assertOpen()
      const counts = Object.fromEntries(MESSAGE_STATUSES.map((s) => [s, 0])) as Record<
        MessageStatus,
        number
      >
      for (const r of stmt.countByStatus.all() as Row[])
        counts[r.status as MessageStatus] = Number(r.n)
      return counts
    },

    async listMessages(filter: MessageFilter, page: PageRequest): Promise<MessagePage> {
      assertOpen()
      const where = filterCondition(filter)
      const params = [...where.params]
      let sql = `SELECT ${SUMMARY_COLUMNS} FROM messages m WHERE ${where.sql}`
      const after = page.cursor ? decodeCursor(page.cursor) : null
      if (after) {
        sql += ' AND (m.created_at < ? OR (m.created_at = ? AND m.id < ?))'
        params.push(after.createdAt, after.createdAt, after.id)
      }
      sql += ' ORDER BY m.created_at DESC, m.id DESC LIMIT ?'
      params.push(page.limit + 1)
      const rows = db.prepare(sql).all(...params) as Row[]
      const more = rows.length > page.limit
      const shown = rows.slice(0, page.limit)
      const last = shown.at(-1)
      return {
        messages: shown.map(toSummary),
        nextCursor: more && last ? encodeCursor(Number(last.created_at), String(last.id)) : null,
      }
    },

    async hold(selector: MessageSelector): Promise<string[]> {
      return changeSelected(
        `UPDATE messages AS m SET status = 'held', due_at = NULL, waiting_upstream = 0, updated_at = ?
         WHERE m.status IN ('queued', 'deferred') AND $WHERE RETURNING id`,
        selector,
        [Date.now()],
      )
    },

    async unhold(selector: MessageSelector): Promise<string[]> {
      const t = Date.now()
      const ids = changeSelected(
        `UPDATE messages AS m SET status = CASE WHEN m.attempts = 0 THEN 'queued' ELSE 'deferred' END,
           due_at = ?, updated_at = ?
         WHERE m.status = 'held' AND $WHERE RETURNING id`,
        selector,
        [t, t],
      )
      if (ids.length) notify()
      return ids
    },

    async retry(selector: MessageSelector, options: { maxAgeMs: number }): Promise<string[]> {
      const where = selectorCondition(selector)
      const t = Date.now()
      const ids = now(() => {
        const deferred = db
          .prepare(
            `UPDATE messages AS m SET due_at = ?, waiting_upstream = 0, updated_at = ?
             WHERE m.status = 'deferred' AND ${where.sql} RETURNING id`,
          )
          .all(t, t, ...where.params) as Row[]
        const failed = (
          db
            .prepare(`SELECT m.id FROM messages m WHERE m.status = 'failed' AND ${where.sql}`)
            .all(...where.params) as Row[]
        ).map((r) => String(r.id))
        for (const id of failed) {
          stmt.requeueRecipients.run(t, id)
          stmt.requeueFailed.run(t, t + options.maxAgeMs, t, id)
        }
        return [...deferred.map((r) => String(r.id)), ...failed]
      })
      if (ids.length) notify()
      return ids
    },

    async remove(selector: MessageSelector): Promise<string[]> {
      return changeSelected('DELETE FROM messages AS m WHERE $WHERE RETURNING id', selector)
    },

    async purge(options: {
      finishedBefore: Date
      statuses: readonly ('sent' | 'failed')[]
    }): Promise<number> {
      if (options.statuses.length === 0) return 0
      const marks = options.statuses.map(() => '?').join(', ')
      // In slices, so a purge of millions never holds the write lock for long.
      const slice = db.prepare(
        `DELETE FROM messages WHERE id IN (
           SELECT id FROM messages WHERE status IN (${marks}) AND finished_at < ? LIMIT 5000)`,
      )
      let purged = 0
      for (let round = 0; round < 100_000; round++) {
        const changes = now(
          () => slice.run(...options.statuses, options.finishedBefore.getTime()).changes,
        )
        purged += changes
        if (changes === 0) break
      }
      return purged
    },

    async stats(): Promise<QueueStats> {
      const counts = await store.countByStatus()
      const t = Date.now()
      const finished = (status: string, since: number) =>
        Number((stmt.finishedSince.get(status, since) as Row).n)
      const oldest = (stmt.oldestWaiting.get() as Row).t
      return {
        counts,
        oldestWaitingAt: typeof oldest === 'number' ? new Date(oldest) : null,
        sentLastHour: finished('sent', t - 3_600_000),
        sentLastDay: finished('sent', t - 86_400_000),
        failedLastHour: finished('failed', t - 3_600_000),
        failedLastDay: finished('failed', t - 86_400_000),
        upstreamProblem: toUpstreamProblem(
          stmt.upstreamProblem.get() as Row | undefined,
          (v) => new Date(Number(v)),
        ),
      }
    },

    async activity({ since, bucketMs }: ActivityRequest): Promise<Activity> {
      const rows = stmt.activityBuckets.all({ since: since.getTime(), bucketMs }) as Row[]
      const success = stmt.lastSuccess.get() as Row | undefined
      const error = stmt.lastError.get() as Row | undefined
      return {
        buckets: toActivityBuckets(rows),
        lastSuccessAt: success ? new Date(Number(success.t)) : null,
        lastError: error ? { at: new Date(Number(error.t)), error: String(error.error) } : null,
      }
    },

    onEnqueue(listener: () => void): () => void {
      listeners.add(listener)
      if (!stopWatching && path !== ':memory:') {
        stopWatching = watchForeignCommits(db, path, notify)
      }
      return () => {
        listeners.delete(listener)
        if (listeners.size === 0 && stopWatching) {
          stopWatching()
          stopWatching = null
        }
      }
    },

    async close(): Promise<void> {
      if (closed) return
      flush()
      closed = true
      stopWatching?.()
      stopWatching = null
      listeners.clear()
      db.close()
    },
  }
  return store
}
