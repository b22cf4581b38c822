import { Redis } from 'ioredis'
import { StoreUnavailableError } from '../../errors.js'
import { silentLogger, type Logger } from '../../logger.js'
import { MESSAGE_STATUSES, type MessageStatus } from '../../message/types.js'
import { decodeCursor, encodeCursor } from '../cursor.js'
import { isDeadLocalOwner } from '../lease-owner.js'
import { priorityFromRank, priorityRank } from '../priority-rank.js'
import {
  toActivityBuckets,
  type ClaimedMessage,
  type MessageFilter,
  type MessageSelector,
  type NewMessage,
  type QueueStats,
  type Store,
} from '../store.js'
import { checkDurability, type DurabilityMode, type DurabilityReport } from './durability.js'
import { maskUrl, redisFailure } from './failure.js'
import { defineScripts } from './scripts.js'
import { fromPairs, toDetail, toSummary } from './summary.js'
import { listenForWakeUps } from './wake-listener.js'

/** Options of {@link createRedisStore}. */
export interface RedisStoreOptions {
  /** `redis://[user:pass@]host:6379/0` or `rediss://…` (TLS), without Outbox's own parameters. */
  url: string
  /** Prefix of every key. @default 'outbox:' */
  prefix?: string
  /** `strict` refuses a server that can lose acknowledged mail on a restart. @default 'warn' */
  durability?: DurabilityMode
  /** After each write, wait until this many replicas have it (Redis `WAIT`). */
  waitReplicas?: number
  /** How long `WAIT` waits. @default 1000 */
  waitTimeoutMs?: number
  logger?: Logger
}

/** The Redis store, with what its server's configuration says about keeping mail. */
export interface RedisStore extends Store {
  readonly durability: DurabilityReport
}

/** How often a claim looks for dead lease owners on this host. */
const DEAD_OWNER_CHECK_MS = 1000
/** Most finished messages one purge script scans. */
const PURGE_BUDGET = 2000

/** Filters travel to the scripts as JSON, times as ms. */
function filterJson(filter: MessageFilter): Record<string, unknown> {
  return {
    ...filter,
    since: filter.since?.getTime(),
    before: filter.before?.getTime(),
  }
}

function selectorJson(selector: MessageSelector): string {
  return JSON.stringify(
    'ids' in selector ? { ids: selector.ids } : { filter: filterJson(selector.filter) },
  )
}

function messageJson(m: NewMessage) {
  return {
    id: m.id,
    messageId: m.messageId,
    priority: priorityRank(m.priority),
    from: m.envelope.from,
    to: m.envelope.to,
    toJson: JSON.stringify(m.envelope.to),
    subject: m.subject,
    tags: [...new Set(m.tags)],
    tagsJson: JSON.stringify(m.tags),
    size: m.raw.length,
    key: m.idempotencyKey,
    sendAt: m.sendAt?.getTime() ?? null,
    maxAgeMs: Math.round(m.maxAgeMs),
    leaseOwner: m.leaseTo?.owner ?? null,
    leaseMs: m.leaseTo ? Math.round(m.leaseTo.leaseMs) : null,
    eightBit: m.eightBit,
    smtpUtf8: m.smtpUtf8,
  }
}

const text = (v: unknown) => (Buffer.isBuffer(v) ? v.toString() : String(v))
const strings = (v: unknown) => (v as unknown[]).map(String)

/**
 * A queue in Redis (standalone, 6.2+): every change one Lua script (scripts/), times by the
 * server's clock, wake-ups by pub/sub. Refuses a server that evicts keys; see
 * {@link checkDurability}.
 */
export async function createRedisStore(options: RedisStoreOptions): Promise<RedisStore> {
  const log = options.logger ?? silentLogger
  const prefix = options.prefix ?? 'outbox:'
  const where = maskUrl(options.url)
  const password = (() => {
    try {
      return decodeURIComponent(new URL(options.url).password)
    } catch {
      return ''
    }
  })()
  const client = new Redis(options.url, {
    lazyConnect: true,
    connectTimeout: 5000,
    // A command waits through a short outage (a couple of reconnects), then fails with a
    // store error instead of hanging: the worker retries, a send() reports it.
    maxRetriesPerRequest: 2,
    retryStrategy: (times) => Math.min(100 * times, 2000),
  })
  let lastErrorLog = 0
  client.on('error', (error: Error) => {
    // A down server makes ioredis emit an error per reconnect: log one every 10 s.
    if (Date.now() - lastErrorLog < 10_000) return
    lastErrorLog = Date.now()
    log.warn({ store: where, err: redisFailure(error, where, password).message }, 'Redis error')
  })
  let durability: DurabilityReport
  try {
    await client.connect()
    durability = await checkDurability(client, options.durability ?? 'warn', where, log)
  } catch (error) {
    client.disconnect()
    throw redisFailure(error, where, password)
  }
  const run = defineScripts(client, prefix)
  const listeners = new Set<() => void>()
  const notifyLocal = () => {
    for (const listener of listeners) listener()
  }
  let stopListening: (() => void) | null = null
  let closed = false
  let lastDeadOwnerCheck = 0

  async function op<T>(work: () => Promise<T>): Promise<T> {
    if (closed) throw new StoreUnavailableError('The redis store is closed.')
    try {
      return await work()
    } catch (error) {
      throw redisFailure(error, where, password)
    }
  }

  /** Acknowledges a write only once `waitReplicas` replicas have it, when asked to. */
  async function replicated(): Promise<void> {
    const replicas = options.waitReplicas ?? 0
    if (replicas <= 0) return
    const acked = Number(await client.call('WAIT', replicas, options.waitTimeoutMs ?? 1000))
    if (acked < replicas) {
      throw new StoreUnavailableError(
        `The Redis store at ${where} has the write, but only ${acked} of ${replicas} replicas confirmed it within ${options.waitTimeoutMs ?? 1000} ms.`,
      )
    }
  }

  async function write<T>(work: () => Promise<T>): Promise<T> {
    const result = await work()
    await replicated()
    return result
  }

  async function takeOverDeadOwners(): Promise<void> {
    if (Date.now() - lastDeadOwnerCheck < DEAD_OWNER_CHECK_MS) return
    lastDeadOwnerCheck = Date.now()
    const dead = strings(await run('lease-owners', [])).filter(isDeadLocalOwner)
    if (dead.length === 0) return
    const taken = await run('expire-leases-of', [JSON.stringify(dead)])
    log.info(
      { owners: dead.slice(0, 5), messages: Number(taken) },
      'took over the leases of workers on this host that are gone',
    )
  }

  const store: RedisStore = {
    kind: 'redis',
    durability,

    enqueue: (messages, enqueueOptions) =>
      op(async () => {
        if (enqueueOptions?.transaction) {
          throw new StoreUnavailableError(
            'The redis store cannot enqueue inside your own database transaction; `db` needs the PostgreSQL or MariaDB store.',
          )
        }
        if (messages.length === 0) return []
        const rows = (await write(() =>
          run('enqueue', [
            JSON.stringify(messages.map(messageJson)),
            ...messages.map((m) => m.raw),
          ]),
        )) as [string, string, number][]
        const results = rows.map(([id, messageId, duplicate]) => ({
          id: String(id),
          messageId: String(messageId),
          duplicate: Number(duplicate) === 1,
        }))
        if (results.some((r) => !r.duplicate)) notifyLocal()
        return results
      }),

    claim: ({ owner, limit, leaseMs }) =>
      op(async () => {
        if (limit <= 0) return []
        await takeOverDeadOwners()
        const rows = (await write(() =>
          run('claim', [owner, limit, Math.round(leaseMs)], true),
        )) as unknown[][]
        // Into this process's clock, taken after the reply: a slow round trip makes a message
        // expire a little late here, never early.
        const local = Date.now()
        return rows.map((r): ClaimedMessage => {
          const pending = JSON.parse(text(r[11])) as unknown
          return {
            id: text(r[0]),
            messageId: text(r[1]),
            from: text(r[2]),
            priority: priorityFromRank(Number(text(r[3]))),
            attempts: Number(text(r[4])),
            backoffStep: Number(text(r[5])),
            eightBit: r[6] == null ? null : text(r[6]) === '1',
            smtpUtf8: r[7] == null ? null : text(r[7]) === '1',
            createdAt: new Date(local - Number(text(r[8]))),
            expiresAt: new Date(local + Number(text(r[9]))),
            raw: Buffer.isBuffer(r[10]) ? r[10] : null,
            // An empty Lua table encodes as `{}`: no pending recipients.
            pendingRecipients: Array.isArray(pending) ? pending.map(String) : [],
            failedRecipients: Number(r[12]),
          }
        })
      }),

    renewLeases: (owner, ids, leaseMs) =>
      op(async () => {
        if (ids.length === 0) return []
        return strings(
          await write(() => run('renew-leases', [owner, JSON.stringify(ids), Math.round(leaseMs)])),
        )
      }),

    releaseLeases: (owner, ids) =>
      op(async () => {
        if (ids.length === 0) return
        const n = Number(await write(() => run('release-leases', [owner, JSON.stringify(ids)])))
        if (n > 0) notifyLocal()
      }),

    complete: (c) =>
      op(async () => {
        const now = Date.now()
        const completion = {
          id: c.id,
          owner: c.owner,
          startedAgoMs: Math.max(0, now - c.attempt.startedAt.getTime()),
          outcome: c.attempt.outcome,
          error: c.attempt.error,
          recipients: c.recipients,
          status: c.status,
          delayMs: c.status === 'deferred' && c.dueAt ? Math.max(0, c.dueAt.getTime() - now) : 0,
          backoffIncrement: c.countsTowardBackoff ? 1 : 0,
          waitingUpstream: c.waitingForUpstream,
          reason: c.reason,
          captured: c.captured,
        }
        const attempt = {
          worker: c.attempt.worker,
          durationMs: Math.round(c.attempt.durationMs),
          outcome: c.attempt.outcome,
          error: c.attempt.error,
          recipients: c.attempt.recipients,
        }
        const applied = await write(() =>
          run('complete', [JSON.stringify(completion), JSON.stringify(attempt)]),
        )
        return Number(applied) === 1
      }),

    msUntilNextDue: () =>
      op(async () => {
        const ms = await run('ms-until-next-due', [])
        return ms === null ? null : Math.max(0, Math.ceil(Number(ms)))
      }),

    wakeUpstreamWaiters: () =>
      op(async () => {
        const n = Number(await write(() => run('wake-upstream-waiters', [])))
        if (n > 0) notifyLocal()
        return n
      }),

    expireOverdue: () => op(async () => Number(await write(() => run('expire-overdue', [])))),

    getMessage: (id) =>
      op(async () => {
        // One MULTI: the hash and its attempt log as of one moment.
        const replies = await client
          .multi()
          .hgetall(`${prefix}m:${id}`)
          .lrange(`${prefix}a:${id}`, 0, -1)
          .exec()
        if (!replies) throw new StoreUnavailableError('The Redis transaction was aborted.')
        for (const [error] of replies) if (error) throw error
        const hash = replies[0]![1] as Record<string, string>
        if (!hash.status) return null
        return toDetail(id, hash, replies[1]![1] as string[])
      }),

    getRaw: (id) => op(async () => client.getBuffer(`${prefix}b:${id}`)),

    countByStatus: () =>
      op(async () => {
        const stored = await client.hgetall(`${prefix}counts`)
        return Object.fromEntries(
          MESSAGE_STATUSES.map((s) => [s, Number(stored[s] ?? 0)]),
        ) as Record<MessageStatus, number>
      }),

    listMessages: (filter, page) =>
      op(async () => {
        const after = page.cursor ? decodeCursor(page.cursor) : null
        const rows = (await run('list-messages', [
          JSON.stringify(filterJson(filter)),
          after ? JSON.stringify(after) : '',
          page.limit + 1,
        ])) as unknown[][]
        const hashes = rows.map(fromPairs)
        const shown = hashes.slice(0, page.limit)
        const last = shown.at(-1)
        return {
          messages: shown.map((h) => toSummary(h.id!, h)),
          nextCursor:
            hashes.length > page.limit && last
              ? encodeCursor(Number(last.created_at), last.id!)
              : null,
        }
      }),

    hold: (selector) =>
      op(async () => strings(await write(() => run('hold', [selectorJson(selector)])))),

    unhold: (selector) =>
      op(async () => {
        const ids = strings(await write(() => run('unhold', [selectorJson(selector)])))
        if (ids.length > 0) notifyLocal()
        return ids
      }),

    retry: (selector, { maxAgeMs }) =>
      op(async () => {
        const ids = strings(
          await write(() => run('retry', [selectorJson(selector), Math.round(maxAgeMs)])),
        )
        if (ids.length > 0) notifyLocal()
        return ids
      }),

    remove: (selector) =>
      op(async () => strings(await write(() => run('remove', [selectorJson(selector)])))),

    purge: ({ finishedBefore, statuses }) =>
      op(async () => {
        let purged = 0
        for (const status of new Set(statuses)) {
          let from = ''
          // In slices, so a purge of millions never blocks the server for long.
          for (let round = 0; round < 1_000_000; round++) {
            const [deleted, last] = (await write(() =>
              run('purge-slice', [status, finishedBefore.getTime(), from, PURGE_BUDGET]),
            )) as [number, string]
            purged += Number(deleted)
            if (!last) break
            from = String(last)
          }
        }
        return purged
      }),

    stats: () =>
      op(async (): Promise<QueueStats> => {
        const [counts, oldest, sentHour, sentDay, failedHour, failedDay, problem] = (await run(
          'stats',
          [],
        )) as [unknown[], string | null, number, number, number, number, string[] | null]
        const stored = fromPairs(counts)
        return {
          counts: Object.fromEntries(
            MESSAGE_STATUSES.map((s) => [s, Number(stored[s] ?? 0)]),
          ) as Record<MessageStatus, number>,
          oldestWaitingAt: oldest === null ? null : new Date(Number(oldest)),
          sentLastHour: Number(sentHour),
          sentLastDay: Number(sentDay),
          failedLastHour: Number(failedHour),
          failedLastDay: Number(failedDay),
          upstreamProblem: problem
            ? {
                kind: problem[1] === 'misconfigured' ? 'misconfigured' : 'unreachable',
                at: new Date(Number(problem[0])),
                error: String(problem[2]),
              }
            : null,
          ...(durability.risk ? { durabilityWarning: durability.risk } : {}),
        }
      }),

    activity: ({ since, bucketMs }) =>
      op(async () => {
        const [entries, up] = await Promise.all([
          client.zrangebyscore(`${prefix}log`, since.getTime(), '+inf', 'WITHSCORES'),
          client.hmget(`${prefix}up`, 'success_t', 'error_t', 'error'),
        ])
        const counts = new Map<string, { bucket: number; outcome: string; n: number }>()
        for (let i = 0; i + 1 < entries.length; i += 2) {
          const outcome = entries[i]!.slice(entries[i]!.indexOf(':') + 1)
          const bucket = Math.floor(Number(entries[i + 1]) / bucketMs) * bucketMs
          const key = `${bucket}:${outcome}`
          const row = counts.get(key) ?? { bucket, outcome, n: 0 }
          row.n++
          counts.set(key, row)
        }
        const [successAt, errorAt, error] = up
        return {
          buckets: toActivityBuckets([...counts.values()]),
          lastSuccessAt: successAt ? new Date(Number(successAt)) : null,
          lastError: errorAt && error ? { at: new Date(Number(errorAt)), error } : null,
        }
      }),

    onEnqueue(listener) {
      listeners.add(listener)
      stopListening ??= listenForWakeUps(client, `${prefix}wake`, log, notifyLocal)
      return () => {
        listeners.delete(listener)
        if (listeners.size === 0 && stopListening) {
          stopListening()
          stopListening = null
        }
      }
    },

    async close() {
      if (closed) return
      closed = true
      stopListening?.()
      stopListening = null
      listeners.clear()
      if (client.status === 'ready') await client.quit().catch(() => client.disconnect())
      else client.disconnect()
    },
  }
  return store
}
