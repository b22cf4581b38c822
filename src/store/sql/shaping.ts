import { StoreUnavailableError } from '../../errors.js'
import { adjustBucketRate, takeFromBuckets, type BucketRow } from '../rate-bucket.js'
import {
  FAILED_OUTCOMES,
  SENT_OUTCOMES,
  type AttemptOutcome,
  type RateBucketState,
  type ShapingMethods,
  type TokenGrant,
  type TokenRequest,
  type UpstreamActivity,
  type WorkerUpstreamReport,
} from '../store.js'
import { createBatcher } from './batcher.js'
import type { RowCodec } from './dialect.js'
import type { Row, SqlDriver } from './driver.js'
import type { ShapingSql, StoredBucket } from './shaping-dialect.js'

/** Most token requests answered by one transaction. */
const MAX_TAKES_PER_BATCH = 500

/**
 * Traffic shaping on a SQL store: the token buckets' arithmetic (rate-bucket.ts) run in JS on
 * rows locked in one transaction, so every process sharing the store takes its turn from the
 * same tokens; and the upstream reports and per-upstream counts, which are plain reads and writes.
 * `op` is the engine's wrapper of public operations (refused once closed, errors as store errors).
 */
export function createShaping(options: {
  driver: SqlDriver
  dialect: ShapingSql & { readonly kind: string; readonly codec: RowCodec }
  op: <T>(work: () => Promise<T>) => Promise<T>
}): ShapingMethods {
  const { driver, dialect, op } = options
  const { codec } = dialect

  /**
   * Runs `compute` on the stored buckets of `keys` (null: none yet) at the store's clock, in a
   * transaction holding their locks, and writes back the rows it changed. Only stored rows are
   * locked in that transaction: a missing one is created first, committed on its own, and the
   * transaction run again, so that no transaction waits for a lock while holding one it took
   * out of key order.
   */
  async function withLockedBuckets<T>(
    keys: readonly string[],
    compute: (
      rows: Map<string, BucketRow | null>,
      now: number,
    ) => { result: T; changed: ReadonlyMap<string, BucketRow> },
  ): Promise<T> {
    for (let round = 0; ; round++) {
      const done = await driver.transaction(async (tx) => {
        const locked = await tx.query(dialect.lockRateBuckets(keys))
        if (locked.length < keys.length) return null
        const now = Number((await tx.query(dialect.clock()))[0]?.now)
        const rows = new Map(locked.map((row) => [String(row.bucket_key), toBucketRow(row)]))
        const { result, changed } = compute(rows, now)
        if (changed.size > 0) {
          const stored = [...changed].map(([key, row]): StoredBucket => ({
            ...row,
            key,
            rate: row.rate ?? 0,
          }))
          await tx.query(dialect.saveRateBuckets(stored))
        }
        return { result }
      })
      if (done) return done.result
      if (round > 0) {
        throw new StoreUnavailableError(
          `The ${dialect.kind} store created rate buckets it then did not find.`,
        )
      }
      await driver.write(dialect.createRateBuckets(keys))
    }
  }

  /** A locked row as the arithmetic reads it: one created only to be locked reads as none. */
  function toBucketRow(row: Row): BucketRow | null {
    if (row.rate === null || row.rate === undefined) return null
    return {
      tokens: Number(row.tokens),
      updatedAt: Number(row.updated_at),
      rate: Number(row.rate),
      throttledAt: row.throttled_at == null ? null : Number(row.throttled_at),
      scheduledUntil: row.scheduled_until == null ? null : Number(row.scheduled_until),
    }
  }

  /** A time of the store's clock in this process's: the same distance from now. */
  const toLocal = (storeNow: number, local: number) => (value: unknown) =>
    value === null || value === undefined ? null : new Date(local - (storeNow - Number(value)))

  /** One transaction for every request given: in order, each taking from what the earlier left. */
  async function takeAll(requests: readonly TokenRequest[]): Promise<TokenGrant[]> {
    const keys = distinctKeys(requests.flatMap((r) => r.buckets.map((b) => b.key)))
    if (keys.length === 0) return requests.map(() => ({ granted: true, waitMs: 0, rates: [] }))
    return withLockedBuckets(keys, (rows, now) => {
      const changed = new Map<string, BucketRow>()
      // In order: a later request takes from what the earlier ones left. A refused one
      // changes its buckets too (the next turn handed out), so every row is written back.
      const grants = requests.map((request): TokenGrant => {
        const before = request.buckets.map((b) => rows.get(b.key) ?? null)
        const { grant, rows: after } = takeFromBuckets(
          request.buckets,
          before,
          request.maxWaitMs,
          now,
        )
        request.buckets.forEach((b, i) => {
          rows.set(b.key, after[i]!)
          changed.set(b.key, after[i]!)
        })
        return grant
      })
      return { result: grants, changed }
    })
  }

  // The takes of every send that asks at once (a worker admitting a claim's messages, several
  // workers of one process) share one transaction: on PostgreSQL or MariaDB a take is a lock,
  // a clock read and a commit, and one per message would cost more than the send.
  const takes = createBatcher<readonly TokenRequest[], TokenGrant[]>({
    maxBatch: MAX_TAKES_PER_BATCH,
    schedule: driver.groupsCommits ? 'microtask' : 'immediate',
    async write(batch) {
      const grants = await takeAll(batch.flat())
      let at = 0
      return batch.map((requests) => grants.slice(at, (at += requests.length)))
    },
  })

  return {
    takeTokens: (requests) => op(async () => (requests.length === 0 ? [] : takes.add(requests))),

    adjustRates: (changes) =>
      op(async () => {
        if (changes.length === 0) return
        await withLockedBuckets(distinctKeys(changes.map((c) => c.key)), (rows, now) => {
          const changed = new Map<string, BucketRow>()
          for (const change of changes) {
            const row = adjustBucketRate(
              rows.get(change.key) ?? null,
              change.ratePerSec,
              change.throttled,
              now,
            )
            rows.set(change.key, row)
            changed.set(change.key, row)
          }
          return { result: undefined, changed }
        })
      }),

    rateBuckets: () =>
      op(async () => {
        const rows = await driver.query(dialect.rateBuckets())
        const local = Date.now()
        return rows.map((row): RateBucketState => {
          const at = toLocal(Number(row.now), local)
          return {
            key: String(row.bucket_key),
            rate: Number(row.rate),
            tokens: Number(row.tokens),
            updatedAt: at(row.updated_at)!,
            throttledAt: at(row.throttled_at),
          }
        })
      }),

    reportUpstreams: (worker, reports, ttlMs) =>
      op(async () => {
        const local = Date.now()
        const ago = (date: Date | null) => (date === null ? null : local - date.getTime())
        // One row per upstream: a list naming one twice counts by its last entry.
        const latest = [...new Map(reports.map((r) => [r.upstream, r])).values()]
        const rows = latest.map((r) => ({
          upstream: r.upstream,
          down: r.down,
          downSinceAgoMs: ago(r.downSince),
          misconfigured: r.misconfigured,
          lastError: r.lastError,
          lastErrorAgoMs: ago(r.lastErrorAt),
          connections: Math.round(r.connections),
        }))
        // One transaction: readers see the worker's old reports or its new ones, never none.
        await driver.transaction(async (tx) => {
          await tx.query(dialect.deleteUpstreamReports(worker))
          if (rows.length > 0) {
            await tx.query(
              dialect.insertUpstreamReports({ worker, reports: rows, ttlMs: Math.round(ttlMs) }),
            )
          }
        })
      }),

    upstreamReports: () =>
      op(async () => {
        const rows = await driver.query(dialect.upstreamReports())
        const local = Date.now()
        const text = (v: unknown) => (typeof v === 'string' ? v : null)
        return rows.map((row): WorkerUpstreamReport => {
          const at = toLocal(Number(row.now), local)
          return {
            worker: String(row.worker),
            upstream: String(row.upstream),
            down: codec.flag(row.down),
            downSince: at(row.down_since),
            misconfigured: codec.flag(row.misconfigured),
            lastError: text(row.last_error),
            lastErrorAt: at(row.last_error_at),
            connections: Number(row.connections),
            reportedAt: at(row.reported_at)!,
          }
        })
      }),

    upstreamActivity: (since) =>
      op(async () => toUpstreamActivity(await driver.query(dialect.upstreamActivity(since)))),
  }
}

/** Keys once each, sorted: every transaction locks them in the same order. */
function distinctKeys(keys: readonly string[]): string[] {
  return [...new Set(keys)].sort()
}

/** Adds up (upstream, outcome, n) rows as `toActivityBuckets` (store.ts) counts outcomes. */
export function toUpstreamActivity(rows: readonly Row[]): UpstreamActivity[] {
  const byUpstream = new Map<string, UpstreamActivity>()
  for (const row of rows) {
    const upstream = String(row.upstream)
    let counts = byUpstream.get(upstream)
    if (!counts) {
      counts = { upstream, sent: 0, deferred: 0, failed: 0 }
      byUpstream.set(upstream, counts)
    }
    const outcome = String(row.outcome) as AttemptOutcome
    const n = Number(row.n)
    if (SENT_OUTCOMES.includes(outcome)) counts.sent += n
    else if (FAILED_OUTCOMES.includes(outcome)) counts.failed += n
    else counts.deferred += n
  }
  return [...byUpstream.values()].sort((a, b) => a.upstream.localeCompare(b.upstream))
}
