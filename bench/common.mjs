// Shared helpers of the benchmark: clocks, statistics, bounded waits, test messages, stores.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { composeMessage } from '../dist/message/compose.js'
import { createQueueId } from '../dist/message/queue-id.js'

/** Milliseconds on a wall clock with sub-millisecond resolution (comparable across processes). */
export const now = () => performance.timeOrigin + performance.now()

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Rejects with `what` if `promise` has not settled within `ms`. */
export async function withTimeout(promise, ms, what) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Polls `check` every `everyMs` until it returns true; throws after `timeoutMs`. */
export async function waitUntil(check, timeoutMs, what, everyMs = 5) {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`)
    await sleep(everyMs)
  }
}

/** The `p`th percentile (0-100) of numbers, by the nearest-rank method. */
export function percentile(values, p) {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length))
  return sorted[Math.min(rank, sorted.length) - 1]
}

/** Median and range of repeated measurements: `{ median, min, max, runs }`. */
export function summarize(runs) {
  const values = runs.filter((v) => typeof v === 'number' && Number.isFinite(v))
  if (values.length === 0) return { median: null, min: null, max: null, runs }
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  return { median, min: sorted[0], max: sorted.at(-1), runs }
}

/** Runs `fn(i)` `times` times in a row; returns the results. */
export async function repeat(times, fn) {
  const results = []
  for (let i = 0; i < times; i++) results.push(await fn(i))
  return results
}

/** Prints a progress line on stderr (the table goes to stdout). */
export function progress(text) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${text}\n`)
}

// ---- Test messages --------------------------------------------------------------------------

const PARAGRAPH =
  'Thank you for your order. Your parcel leaves our warehouse today and should reach you ' +
  'within three working days. You can follow it with the tracking link in your account. '

/** About 2 KB of text. */
export const SMALL_TEXT = PARAGRAPH.repeat(Math.ceil(2048 / PARAGRAPH.length)).slice(0, 2048)

const ATTACHMENT = randomBytes(100 * 1024)

/** Message `i` of a run: 2 KB of text, plus a 100 KB attachment when `large`. */
export function mail(i, { large = false } = {}) {
  return {
    from: 'shop@example.com',
    to: `customer${i}@example.org`,
    subject: `Your order ${i}`,
    text: SMALL_TEXT,
    ...(large
      ? {
          attachments: [
            { filename: 'invoice.pdf', content: ATTACHMENT, contentType: 'application/pdf' },
          ],
        }
      : {}),
  }
}

/** Composes `count` small messages once, with Outbox's own composer: `{ envelope, raw, … }`. */
export async function composeMany(count, options = {}) {
  const composed = []
  for (let i = 0; i < count; i++) {
    composed.push(await composeMessage(mail(i, options), { maxMessageSize: 25 * 1024 * 1024 }))
  }
  return composed
}

/** A store row (NewMessage) for an already composed message, for bulk inserts. */
export function newMessage(composed) {
  return {
    id: createQueueId(),
    messageId: composed.messageId,
    envelope: composed.envelope,
    raw: composed.raw,
    subject: composed.subject,
    priority: 'normal',
    sendAt: null,
    maxAgeMs: 86_400_000,
    idempotencyKey: null,
    tags: [],
  }
}

// ---- Stores ---------------------------------------------------------------------------------

export const POSTGRES_URL =
  process.env.OUTBOX_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** Where this run keeps its SQLite files and PostgreSQL schemas; `cleanup()` removes them all. */
export function createWorkspace() {
  const dir = mkdtempSync(join(tmpdir(), 'outbox-bench-'))
  const runId = randomBytes(3).toString('hex')
  const schemas = []
  let files = 0
  return {
    dir,
    /** A fresh store URL of the given kind. */
    storeUrl(kind, label) {
      if (kind === 'sqlite') return `sqlite:${join(dir, `${label}-${files++}.db`)}`
      const schema = `bench_${runId}_${label.replace(/[^a-z0-9_]/g, '_')}_${schemas.length}`
      schemas.push(schema)
      const url = new URL(POSTGRES_URL)
      url.searchParams.set('schema', schema)
      return url.toString()
    },
    /** Deletes a SQLite file set at once (large stores), keeping the rest for `cleanup()`. */
    removeSqlite(url) {
      const path = url.slice('sqlite:'.length)
      for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true })
    },
    async cleanup() {
      rmSync(dir, { recursive: true, force: true })
      if (schemas.length === 0) return
      const client = new pg.Client({
        connectionString: POSTGRES_URL,
        connectionTimeoutMillis: 3000,
      })
      try {
        await client.connect()
        for (const schema of schemas)
          await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
      } catch (error) {
        progress(`could not drop the bench schemas ${schemas.join(', ')}: ${error.message}`)
      } finally {
        await client.end().catch(() => undefined)
      }
    },
  }
}

/** Null if PostgreSQL answers at POSTGRES_URL, else the reason it does not. */
export async function postgresProblem() {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    await client.query('SELECT 1')
    return null
  } catch (error) {
    return `PostgreSQL is not reachable at ${POSTGRES_URL}: ${error.message}`
  } finally {
    await client.end().catch(() => undefined)
  }
}
