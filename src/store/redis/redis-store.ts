import { ConfigError, StoreUnavailableError } from '../../errors.js'
import { silentLogger, type Logger } from '../../logger.js'
import { MESSAGE_STATUSES, type MessageStatus } from '../../message/types.js'
import { decodeCursor, encodeCursor } from '../cursor.js'
import { isDeadLocalOwner } from '../lease-owner.js'
import type { QueueStats, Store } from '../store.js'
import { connectRedis, passwordOf } from './connection.js'
import { createConsumerMethods } from './consumers.js'
import type { DurabilityMode, DurabilityReport } from './durability.js'
import { maskUrl, redisFailure } from './failure.js'
import { completionJson, filterJson, messageJson, selectorJson } from './script-args.js'
import { createEventMethods } from './events.js'
import { defineScripts } from './scripts.js'
import { createShapingMethods } from './shaping.js'
import { createSuppressionMethods } from './suppressions.js'
import { createTemplateMethods } from './templates.js'
import { toActivity, toClaimed, toQueueStats, type StatsReply } from './replies.js'
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
  const password = passwordOf(options.url)
  const { client, durability } = await connectRedis(options, where, password, log)
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
          throw new ConfigError(
            'options.db',
            'The redis store cannot enqueue inside your own database transaction; `db` needs the PostgreSQL or MariaDB store.',
          )
        }
        if (messages.length === 0) return []
        const rows = (await write(() =>
          run('enqueue', [
            JSON.stringify(messages.map(messageJson)),
            ...messages.map((m) => m.raw),
          ]),
        )) as [string, string, number, string[]][]
        const results = rows.map(([id, messageId, duplicate, suppressed]) => ({
          id: String(id),
          messageId: String(messageId),
          duplicate: Number(duplicate) === 1,
          suppressed: suppressed.map(String),
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
        return toClaimed(rows, Date.now())
      }),

    renewLeases: (owner, ids, leaseMs) =>
      op(async () => {
        if (ids.length === 0) return []
        return strings(
          await write(() => run('renew-leases', [owner, JSON.stringify(ids), Math.round(leaseMs)])),
        )
      }),

    releaseLeases: (owner, ids, delaysMs) =>
      op(async () => {
        if (ids.length === 0) return
        const delays = delaysMs
          ? JSON.stringify(ids.map((_, i) => Math.round(delaysMs[i] ?? 0)))
          : ''
        const n = Number(
          await write(() => run('release-leases', [owner, JSON.stringify(ids), delays])),
        )
        if (n > 0) notifyLocal()
      }),

    complete: (c) =>
      op(async () => {
        const [completion, attempt] = completionJson(c)
        const applied = await write(() => run('complete', [completion, attempt]))
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
        return toQueueStats((await run('stats', [])) as StatsReply, durability.risk)
      }),

    activity: ({ since, bucketMs }) =>
      op(async () => {
        const [entries, up] = await Promise.all([
          client.zrangebyscore(`${prefix}log`, since.getTime(), '+inf', 'WITHSCORES'),
          client.hmget(`${prefix}up`, 'success_t', 'error_t', 'error'),
        ])
        return toActivity(entries, up, bucketMs)
      }),

    ...createShapingMethods({ run, op, write }),
    ...createSuppressionMethods({ run, op, write }),
    ...createEventMethods({ run, op, write, client, prefix }),
    ...createConsumerMethods({ run, op, write, client, prefix }),
    ...createTemplateMethods({ run, op, write, client, prefix }),

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
