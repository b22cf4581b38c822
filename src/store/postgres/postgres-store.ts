import pg from 'pg'
import { ConfigError, OutboxError, StoreUnavailableError } from '../../errors.js'
import type { Logger } from '../../logger.js'
import { silentLogger } from '../../logger.js'
import { MESSAGE_STATUSES, type MessageStatus, type RecipientStatus } from '../../message/types.js'
import { decodeCursor, encodeCursor } from '../cursor.js'
import { priorityFromRank, priorityRank } from '../priority-rank.js'
import type {
  AttemptRecord,
  ClaimedMessage,
  ClaimRequest,
  Completion,
  EnqueueOptions,
  EnqueueResult,
  ExternalTransaction,
  MessageDetail,
  MessageFilter,
  MessagePage,
  MessageSelector,
  MessageSummary,
  NewMessage,
  PageRequest,
  QueueStats,
  RecipientOutcome,
  Store,
} from '../store.js'
import { toActivityBuckets, toUpstreamProblem } from '../store.js'
import { pgFilterCondition, pgSelectorCondition } from './filter-sql.js'
import { createNotificationListener } from './listener.js'
import { migratePostgres } from './migrate.js'
import { createQueries, SUMMARY_COLUMNS } from './queries.js'

/** Options of the PostgreSQL store. */
export interface PostgresStoreOptions {
  /** `postgres://user:pass@host:5432/db` */
  connectionString: string
  /**
   * Schema holding Outbox's tables, so it can share a database with the application.
   * @default 'outbox'
   */
  schema?: string
  /**
   * Connections in the pool (the LISTEN connection comes on top).
   * @default 10
   */
  poolSize?: number
  /**
   * Apply pending migrations when opening. When false, a store behind the code is refused with
   * a message saying to run `outbox migrate`.
   * @default true
   */
  migrate?: boolean
  /**
   * What to do when the schema holds no Outbox queue yet: create it, or refuse (commands that
   * read or change an existing queue, where a typo in `schema` must not look like an empty queue).
   * @default 'create'
   */
  ifMissing?: 'create' | 'refuse'
  logger?: Logger
}

type Row = Record<string, unknown>

/** Most messages, and bytes, in one insert statement; larger batches take several. */
const MAX_INSERT_ROWS = 1000
const MAX_INSERT_BYTES = 16 * 1024 * 1024

/** Splits messages into runs that each fit one insert statement. */
function chunks(messages: readonly NewMessage[]): NewMessage[][] {
  const out: NewMessage[][] = []
  let current: NewMessage[] = []
  let bytes = 0
  for (const m of messages) {
    if (
      current.length > 0 &&
      (current.length >= MAX_INSERT_ROWS || bytes + m.raw.length > MAX_INSERT_BYTES)
    ) {
      out.push(current)
      current = []
      bytes = 0
    }
    current.push(m)
    bytes += m.raw.length
  }
  if (current.length > 0) out.push(current)
  return out
}

/** Quotes a schema name after checking it is a plain identifier. */
export function quoteSchema(schema: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new ConfigError(
      'store',
      `The PostgreSQL schema name ${JSON.stringify(schema)} is not a plain lower-case identifier (a-z, 0-9, _).`,
    )
  }
  return `"${schema}"`
}

/** Postgres error classes that mean "the server is not there", as opposed to a bad query. */
function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: string }).code ?? ''
  return (
    /^(08|57P|53)/.test(code) ||
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND'].includes(code) ||
    /Connection terminated|connection timeout|Client has encountered a connection error/i.test(
      String((error as Error).message),
    )
  )
}

/**
 * Opens a PostgreSQL queue: many workers on many machines share it, claiming with
 * `FOR UPDATE SKIP LOCKED` and leases, and wake on LISTEN/NOTIFY. Every time that decides
 * correctness (due times, lease expiry) is the database's `now()`.
 */
export async function createPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const schemaName = options.schema ?? 'outbox'
  const s = quoteSchema(schemaName)
  const q = createQueries(s)
  const log = options.logger ?? silentLogger
  const channel = `outbox:${schemaName}`
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: 5000,
    application_name: 'outbox',
    // Outbox's queries are short index lookups. With statistics not yet caught up (say, right
    // after a million rows arrived) their cost estimates pass jit_above_cost, and compiling
    // them took 100 ms per claim in the benchmark instead of 0.3 ms.
    options: '-c jit=off',
  })
  // An idle client losing its server (a restart) emits here; without a listener it would crash.
  pool.on('error', (error) =>
    log.warn({ err: error.message }, 'PostgreSQL connection lost; will reconnect'),
  )
  const safeUrl = options.connectionString.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@')

  function unavailable(cause: unknown): OutboxError {
    if (cause instanceof OutboxError) return cause
    const message = (cause as Error).message
    return new StoreUnavailableError(
      isConnectionError(cause)
        ? `PostgreSQL at ${safeUrl} is unreachable (${message}); nothing was stored. Retry when it is back.`
        : `PostgreSQL store failed: ${message}`,
      { cause },
    )
  }

  // The worker's statements, run for every message or claim, are prepared once per connection
  // (parsed and planned once) rather than each time.
  const prepared = new Map<string, string>(
    (
      [
        'claimExpiredLeases',
        'claimDue',
        'claimedRows',
        'renewLeases',
        'releaseLeases',
        'complete',
        'msUntilNextDue',
        'notify',
      ] as const
    ).map((name) => [q[name], `outbox_${name}`]),
  )

  async function query<T extends Row = Row>(text: string, values: unknown[] = []): Promise<T[]> {
    try {
      const name = prepared.get(text)
      return (await pool.query<T>(name ? { name, text, values } : { text, values })).rows
    } catch (error) {
      throw unavailable(error)
    }
  }

  /** Runs `fn` in a transaction on one pooled client. */
  async function transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient
    try {
      client = await pool.connect()
    } catch (error) {
      throw unavailable(error)
    }
    let broken = false
    try {
      await client.query('BEGIN')
      const result = await fn(client)
      await client.query('COMMIT')
      return result
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {
        broken = true
      })
      throw unavailable(error)
    } finally {
      client.release(broken)
    }
  }

  try {
    await migratePostgres(pool, schemaName, s, {
      apply: options.migrate ?? true,
      ifMissing: options.ifMissing ?? 'create',
    })
  } catch (error) {
    await pool.end().catch(() => undefined)
    throw unavailable(error)
  }

  const listeners = new Set<() => void>()
  const notify = (): void => {
    for (const listener of listeners) listener()
  }
  const listener = createNotificationListener({
    connectionString: options.connectionString,
    channel,
    logger: log,
    onNotify: notify,
  })
  let closed = false

  // Group commit of completions: those that arrive while a batch is being written go together
  // in the next statement, so a busy worker needs far fewer round trips and commits, and an
  // idle one waits for nothing.
  const completions: {
    completion: Completion
    resolve: (applied: boolean) => void
    reject: (error: unknown) => void
  }[] = []
  let completing = false

  /** Applies completions in one statement; resolves with the ids whose outcome applied. */
  async function applyCompletions(batch: readonly Completion[]): Promise<Set<string>> {
    const now = Date.now()
    const input = batch.map((c, ord) => ({
      ord,
      id: c.id,
      owner: c.owner,
      worker: c.attempt.worker,
      // Durations, not times: the worker's clock may be off, the database's decides.
      started_ago_ms: Math.max(0, now - c.attempt.startedAt.getTime()),
      duration_ms: Math.round(c.attempt.durationMs),
      outcome: c.attempt.outcome,
      error: c.attempt.error,
      attempt_recipients: c.attempt.recipients,
      recipients: c.recipients,
      status: c.status,
      delay_ms: c.dueAt ? Math.max(0, c.dueAt.getTime() - now) : 0,
      backoff_increment: c.countsTowardBackoff ? 1 : 0,
      waiting_upstream: c.waitingForUpstream,
      reason: c.reason,
      captured: c.captured,
    }))
    const rows = await query(q.complete, [JSON.stringify(input)])
    return new Set(rows.map((r) => String(r.id)))
  }

  async function writeCompletions(): Promise<void> {
    completing = true
    try {
      while (completions.length > 0) {
        const batch = completions.splice(0, 200)
        try {
          const applied = await applyCompletions(batch.map((b) => b.completion))
          for (const b of batch) b.resolve(applied.has(b.completion.id))
        } catch (error) {
          if (batch.length === 1) {
            batch[0]!.reject(error)
            continue
          }
          // One bad completion must not fail the others: write them one by one.
          for (const b of batch) {
            await applyCompletions([b.completion]).then(
              (applied) => b.resolve(applied.has(b.completion.id)),
              b.reject,
            )
          }
        }
      }
    } finally {
      completing = false
    }
  }

  /**
   * Inserts a batch with one statement per chunk (see `insertMessages`), inside `client`'s
   * transaction. A message whose idempotency key is already stored, or appears earlier in the
   * batch, is not inserted: its result points to the first message, with `duplicate: true`.
   */
  async function insertAll(
    client: ExternalTransaction,
    messages: readonly NewMessage[],
  ): Promise<EnqueueResult[]> {
    // A key's first occurrence is inserted; later ones in the batch take its result.
    const firstWithKey = new Map<string, NewMessage>()
    const fresh: NewMessage[] = []
    for (const m of messages) {
      if (m.idempotencyKey === null) fresh.push(m)
      else if (!firstWithKey.has(m.idempotencyKey)) {
        firstWithKey.set(m.idempotencyKey, m)
        fresh.push(m)
      }
    }
    const inserted = new Set<string>()
    for (const chunk of chunks(fresh)) {
      const result = (await client.query(q.insertMessages(chunk.length), [
        chunk.map((m) => m.id),
        chunk.map((m) => m.messageId),
        chunk.map((m) => (m.leaseTo ? 'sending' : 'queued')),
        chunk.map((m) => priorityRank(m.priority)),
        chunk.map((m) => m.envelope.from),
        chunk.map((m) => JSON.stringify(m.envelope.to)),
        chunk.map((m) => m.subject),
        chunk.map((m) => JSON.stringify(m.tags)),
        chunk.map((m) => m.raw.length),
        chunk.map((m) => m.idempotencyKey),
        chunk.map((m) => m.sendAt),
        chunk.map((m) => m.maxAgeMs),
        chunk.map((m) => m.leaseTo?.owner ?? null),
        chunk.map((m) => m.leaseTo?.leaseMs ?? null),
        chunk.map((m) => m.eightBit ?? null),
        chunk.map((m) => m.smtpUtf8 ?? null),
        channel,
        ...chunk.map((m) => m.raw),
      ])) as pg.QueryResult<Row>
      for (const id of (result.rows[0]?.ids as string[] | null) ?? []) inserted.add(id)
    }
    // Keys already taken (ON CONFLICT waited for the transaction holding them to commit).
    const taken = fresh.filter((m) => !inserted.has(m.id)).map((m) => m.idempotencyKey)
    const existing = new Map<string, EnqueueResult>()
    if (taken.length > 0) {
      const rows = ((await client.query(q.findByIdempotencyKeys, [taken])) as pg.QueryResult<Row>)
        .rows
      for (const row of rows) {
        existing.set(String(row.idempotency_key), {
          id: String(row.id),
          messageId: String(row.message_id),
          duplicate: true,
        })
      }
    }
    return messages.map((m): EnqueueResult => {
      if (m.idempotencyKey === null || firstWithKey.get(m.idempotencyKey) === m) {
        if (inserted.has(m.id)) return { id: m.id, messageId: m.messageId, duplicate: false }
        const first = m.idempotencyKey !== null ? existing.get(m.idempotencyKey) : undefined
        if (!first) {
          throw new StoreUnavailableError(
            `PostgreSQL store failed: message ${m.id} was neither stored nor found by its idempotency key.`,
          )
        }
        return first
      }
      const first = firstWithKey.get(m.idempotencyKey)!
      return inserted.has(first.id)
        ? { id: first.id, messageId: first.messageId, duplicate: true }
        : existing.get(m.idempotencyKey)!
    })
  }

  function toSummary(row: Row): MessageSummary {
    const optionalText = (v: unknown) => (typeof v === 'string' ? v : null)
    const optionalDate = (v: unknown) => (v instanceof Date ? v : null)
    return {
      id: String(row.id),
      messageId: String(row.message_id),
      status: row.status as MessageStatus,
      priority: priorityFromRank(Number(row.priority)),
      from: String(row.mail_from),
      recipients: row.recipients as string[],
      subject: optionalText(row.subject),
      tags: row.tags as string[],
      size: Number(row.size),
      attempts: Number(row.attempts),
      createdAt: row.created_at as Date,
      dueAt: optionalDate(row.due_at),
      expiresAt: row.expires_at as Date,
      reason: optionalText(row.reason),
      lastError: optionalText(row.last_error),
      captured: row.captured === true,
      idempotencyKey: optionalText(row.idempotency_key),
      leaseOwner: optionalText(row.lease_owner),
      leaseExpiresAt: optionalDate(row.lease_expires_at),
      finishedAt: optionalDate(row.finished_at),
    }
  }

  /** Runs `UPDATE/DELETE … WHERE <selector> RETURNING id`; `$WHERE` marks the condition. */
  async function changeSelected(
    sql: string,
    selector: MessageSelector,
    leading: unknown[] = [],
  ): Promise<string[]> {
    const where = pgSelectorCondition(s, selector, leading.length + 1)
    const rows = await query(sql.replace('$WHERE', where.sql), [...leading, ...where.params])
    return rows.map((r) => String(r.id))
  }

  const store: Store = {
    kind: 'postgres',

    async enqueue(messages, enqueueOptions?: EnqueueOptions) {
      if (closed) throw new StoreUnavailableError('The PostgreSQL store is closed.')
      const external = enqueueOptions?.transaction
      if (external) {
        try {
          return await insertAll(external, messages)
        } catch (error) {
          throw unavailable(error)
        }
      }
      // One statement is atomic on its own: a batch that fits one and needs no look-up of
      // idempotency keys afterwards skips BEGIN and COMMIT (two round trips of every send()).
      const single =
        messages.every((m) => m.idempotencyKey === null) && chunks(messages).length === 1
      const results = single
        ? await insertAll({ query: (text, values) => pool.query(text, values) }, messages).catch(
            (error: unknown) => {
              throw unavailable(error)
            },
          )
        : await transaction((client) => insertAll(client, messages))
      if (results.some((r) => !r.duplicate)) notify()
      return results
    },

    async claim({ owner, limit, leaseMs }: ClaimRequest) {
      if (limit <= 0) return []
      // RETURNING comes in no particular order: sort each batch by due time, then id.
      const byDue = (a: Row, b: Row) =>
        (a.due_at as Date | null)?.getTime() !== (b.due_at as Date | null)?.getTime()
          ? ((a.due_at as Date | null)?.getTime() ?? 0) -
            ((b.due_at as Date | null)?.getTime() ?? 0)
          : String(a.id).localeCompare(String(b.id))
      const picked: Row[] = (await query(q.claimExpiredLeases, [owner, limit, leaseMs])).sort(byDue)
      for (let rank = 0; rank <= 3 && picked.length < limit; rank++) {
        picked.push(
          ...(await query(q.claimDue, [owner, limit - picked.length, leaseMs, rank])).sort(byDue),
        )
      }
      if (picked.length === 0) return []
      const order = new Map(picked.map((r, i) => [String(r.id), i]))
      const rows = await query(q.claimedRows, [picked.map((r) => String(r.id))])
      rows.sort((a, b) => order.get(String(a.id))! - order.get(String(b.id))!)
      // Into this process's clock (see ClaimedMessage). Taken after the reply, so a slow round
      // trip makes a message expire a little late here, never early.
      const local = Date.now()
      return rows.map((row): ClaimedMessage => ({
        id: String(row.id),
        messageId: String(row.message_id),
        from: String(row.mail_from),
        pendingRecipients: row.pending as string[],
        failedRecipients: Number(row.failed),
        raw: Buffer.isBuffer(row.raw) ? row.raw : null,
        priority: priorityFromRank(Number(row.priority)),
        attempts: Number(row.attempts),
        backoffStep: Number(row.backoff_step),
        createdAt: new Date(local - Number(row.created_ago_ms)),
        expiresAt: new Date(local + Number(row.expires_in_ms)),
        eightBit: row.eight_bit as boolean | null,
        smtpUtf8: row.smtputf8 as boolean | null,
      }))
    },

    async renewLeases(owner, ids, leaseMs) {
      if (ids.length === 0) return []
      return (await query(q.renewLeases, [[...ids], owner, leaseMs])).map((r) => String(r.id))
    },

    async releaseLeases(owner, ids) {
      if (ids.length === 0) return
      await query(q.releaseLeases, [[...ids], owner])
      await query(q.notify, [channel])
    },

    complete(c: Completion) {
      return new Promise<boolean>((resolve, reject) => {
        completions.push({ completion: c, resolve, reject })
        if (!completing) void writeCompletions()
      })
    },

    async msUntilNextDue() {
      const ms = (await query(q.msUntilNextDue))[0]?.ms
      return ms === null || ms === undefined ? null : Math.max(0, Math.ceil(Number(ms)))
    },

    async wakeUpstreamWaiters() {
      try {
        const woken = (await pool.query(q.wakeUpstreamWaiters)).rowCount ?? 0
        if (woken > 0) await pool.query(q.notify, [channel])
        return woken
      } catch (error) {
        throw unavailable(error)
      }
    },

    async expireOverdue() {
      return Number((await query(q.expireOverdue))[0]?.n ?? 0)
    },

    async getMessage(id) {
      const row = (await query(q.messageRow, [id]))[0]
      if (!row) return null
      const [recipients, attempts] = await Promise.all([
        query(q.recipientRows, [id]),
        query(q.attemptRows, [id]),
      ])
      return {
        ...toSummary(row),
        recipientStatus: recipients.map((r) => ({
          address: String(r.address),
          status: r.status as RecipientStatus,
          code: r.code === null ? null : Number(r.code),
          reply: r.reply === null ? null : String(r.reply as string),
        })),
        attemptLog: attempts.map((r): AttemptRecord => ({
          worker: String(r.worker),
          startedAt: r.started_at as Date,
          durationMs: Number(r.duration_ms),
          outcome: r.outcome as AttemptRecord['outcome'],
          error: r.error === null ? null : String(r.error as string),
          recipients: r.recipients as RecipientOutcome[],
        })),
      } satisfies MessageDetail
    },

    async getRaw(id) {
      const row = (await query(q.raw, [id]))[0]
      return row && Buffer.isBuffer(row.raw) ? row.raw : null
    },

    async countByStatus() {
      const counts = Object.fromEntries(MESSAGE_STATUSES.map((st) => [st, 0])) as Record<
        MessageStatus,
        number
      >
      for (const r of await query(q.countByStatus)) counts[r.status as MessageStatus] = Number(r.n)
      return counts
    },

    async listMessages(filter: MessageFilter, page: PageRequest): Promise<MessagePage> {
      const where = pgFilterCondition(s, filter)
      const params = [...where.params]
      let sql = `SELECT ${SUMMARY_COLUMNS} FROM ${s}.messages m WHERE ${where.sql}`
      const after = page.cursor ? decodeCursor(page.cursor) : null
      if (after) {
        params.push(new Date(after.createdAt), after.id)
        const t = `$${params.length - 1}`
        sql += ` AND (m.created_at < ${t} OR (m.created_at = ${t} AND m.id < $${params.length}))`
      }
      params.push(page.limit + 1)
      sql += ` ORDER BY m.created_at DESC, m.id DESC LIMIT $${params.length}`
      const rows = await query(sql, params)
      const shown = rows.slice(0, page.limit)
      const last = shown.at(-1)
      return {
        messages: shown.map(toSummary),
        nextCursor:
          rows.length > page.limit && last
            ? encodeCursor((last.created_at as Date).getTime(), String(last.id))
            : null,
      }
    },

    async hold(selector) {
      return changeSelected(
        `UPDATE ${s}.messages m SET status = 'held', due_at = NULL, waiting_upstream = false, updated_at = now()
         WHERE m.status IN ('queued', 'deferred') AND $WHERE RETURNING m.id`,
        selector,
      )
    },

    async unhold(selector) {
      const ids = await changeSelected(
        `UPDATE ${s}.messages m SET status = CASE WHEN m.attempts = 0 THEN 'queued' ELSE 'deferred' END,
           due_at = now(), updated_at = now()
         WHERE m.status = 'held' AND $WHERE RETURNING m.id`,
        selector,
      )
      if (ids.length) await query(q.notify, [channel])
      return ids
    },

    async retry(selector, { maxAgeMs }) {
      const deferred = await changeSelected(
        `UPDATE ${s}.messages m SET due_at = now(), waiting_upstream = false, updated_at = now()
         WHERE m.status = 'deferred' AND $WHERE RETURNING m.id`,
        selector,
      )
      const where = pgSelectorCondition(s, selector)
      const failedIds = (
        await query(
          `SELECT m.id FROM ${s}.messages m WHERE m.status = 'failed' AND ${where.sql}`,
          where.params,
        )
      ).map((r) => String(r.id))
      const failed = failedIds.length
        ? (await query(q.requeueFailed, [failedIds, maxAgeMs])).map((r) => String(r.id))
        : []
      const ids = [...deferred, ...failed]
      if (ids.length) await query(q.notify, [channel])
      return ids
    },

    async remove(selector) {
      return changeSelected(`DELETE FROM ${s}.messages m WHERE $WHERE RETURNING m.id`, selector)
    },

    async purge({ finishedBefore, statuses }) {
      if (statuses.length === 0) return 0
      const olderThanMs = Math.max(0, Date.now() - finishedBefore.getTime())
      let purged = 0
      for (let round = 0; round < 100_000; round++) {
        let deleted: number
        try {
          deleted = (await pool.query(q.purgeSlice, [[...statuses], olderThanMs])).rowCount ?? 0
        } catch (error) {
          throw unavailable(error)
        }
        purged += deleted
        if (deleted === 0) break
      }
      return purged
    },

    async stats(): Promise<QueueStats> {
      const finished = async (status: string, ms: number) =>
        Number((await query(q.finishedSince, [status, ms]))[0]?.n ?? 0)
      const [counts, oldest, sentLastHour, sentLastDay, failedLastHour, failedLastDay, problem] =
        await Promise.all([
          store.countByStatus(),
          query(q.oldestWaiting),
          finished('sent', 3_600_000),
          finished('sent', 86_400_000),
          finished('failed', 3_600_000),
          finished('failed', 86_400_000),
          query(q.upstreamProblem),
        ])
      const t = oldest[0]?.t
      return {
        counts,
        oldestWaitingAt: t instanceof Date ? t : null,
        sentLastHour,
        sentLastDay,
        failedLastHour,
        failedLastDay,
        upstreamProblem: toUpstreamProblem(problem[0], (v) => v as Date),
      }
    },

    async activity({ since, bucketMs }) {
      const [rows, success, error] = await Promise.all([
        query(q.activityBuckets, [since, bucketMs]),
        query(q.lastSuccess),
        query(q.lastError),
      ])
      return {
        buckets: toActivityBuckets(rows),
        lastSuccessAt: success[0] ? (success[0].t as Date) : null,
        lastError: error[0] ? { at: error[0].t as Date, error: String(error[0].error) } : null,
      }
    },

    onEnqueue(fn) {
      listeners.add(fn)
      listener.start()
      return () => {
        listeners.delete(fn)
        if (listeners.size === 0) listener.stop()
      }
    },

    async close() {
      if (closed) return
      closed = true
      listeners.clear()
      listener.stop()
      await pool.end()
    },
  }
  return store
}
