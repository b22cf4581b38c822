// Shared helpers of the benchmark: clocks, statistics, bounded waits, test messages, stores.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
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
/**
 * Runs Outbox and its direct baseline alternately, `repeats` pairs (O D, D O, O D…), so that
 * each ratio is taken within one pair: the machine drifts between pairs, hardly within one.
 * `run(which)` resolves with one result (`which` is `outbox` or `direct`), `report(which,
 * result, i)` prints it, and `afterPair(pair, i)`, if given, runs after each pair. Resolves with
 * every result by side and the pairs in order.
 */
export async function alternatingPairs(repeats, { run, report, afterPair }) {
  const runs = { outbox: [], direct: [] }
  const pairs = []
  for (let i = 0; i < repeats; i++) {
    const pair = {}
    for (const which of i % 2 === 0 ? ['outbox', 'direct'] : ['direct', 'outbox']) {
      pair[which] = await run(which)
      runs[which].push(pair[which])
      report(which, pair[which], i)
    }
    pairs.push(pair)
    await afterPair?.(pair, i)
  }
  return { runs, pairs }
}

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
/** A MariaDB server; each store gets a fresh database on it (the path, if any, is ignored). */
export const MARIADB_URL = process.env.OUTBOX_BENCH_MARIADB_URL ?? 'mysql://root@127.0.0.1:3306'
/** A Redis server and database; each store gets a fresh key prefix on it. */
export const REDIS_URL = process.env.OUTBOX_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/0'

/** Every backend the bench knows, in the order of the report's columns. */
export const BACKEND_KINDS = ['sqlite', 'postgres', 'mariadb', 'redis']

/** The database named `name` on MARIADB_URL's server, as a store URL. */
function mariadbStoreUrl(name) {
  const url = new URL(MARIADB_URL.replace(/^mariadb:/, 'mysql:'))
  url.pathname = `/${name}`
  url.searchParams.set('prefix', 'outbox_')
  return url.toString()
}

/** A connection to MARIADB_URL's server, no database chosen (mysql2 loaded only when needed). */
async function mariadbConnection() {
  const mysql = (await import('mysql2/promise')).default
  const url = new URL(MARIADB_URL.replace(/^mariadb:/, 'mysql:'))
  url.pathname = '/'
  return mysql.createConnection({ uri: url.toString(), connectTimeout: 3000 })
}

/** Where this run keeps its stores; `cleanup()` removes them all. */
export function createWorkspace() {
  const dir = mkdtempSync(join(tmpdir(), 'outbox-bench-'))
  const runId = randomBytes(3).toString('hex')
  const schemas = []
  const databases = []
  const prefixes = []
  let files = 0
  let stores = 0
  const clean = (label) => label.replace(/[^a-z0-9_]/g, '_')
  return {
    dir,
    runId,
    /** A fresh store URL of the given kind. */
    storeUrl(kind, label) {
      if (kind === 'sqlite') return `sqlite:${join(dir, `${label}-${files++}.db`)}`
      if (kind === 'mariadb') {
        const name = `bench_${runId}_${clean(label)}_${stores++}`
        databases.push(name)
        return mariadbStoreUrl(name)
      }
      if (kind === 'redis') {
        const prefix = `bench:${runId}:${clean(label)}:${stores++}:`
        prefixes.push(prefix)
        const url = new URL(REDIS_URL)
        url.searchParams.set('prefix', prefix)
        return url.toString()
      }
      if (kind !== 'postgres') throw new Error(`no such backend: ${kind}`)
      const schema = `bench_${runId}_${clean(label)}_${schemas.length}`
      schemas.push(schema)
      const url = new URL(POSTGRES_URL)
      url.searchParams.set('schema', schema)
      return url.toString()
    },
    /** Before a store of MariaDB is opened: its database must exist. */
    async prepare(url) {
      if (!url.startsWith('mysql:')) return
      const name = new URL(url).pathname.slice(1)
      const connection = await mariadbConnection()
      try {
        await connection.query(`CREATE DATABASE IF NOT EXISTS \`${name}\``)
      } finally {
        await connection.end().catch(() => undefined)
      }
    },
    /** Deletes a SQLite file set at once (large stores), keeping the rest for `cleanup()`. */
    removeSqlite(url) {
      const path = url.slice('sqlite:'.length)
      for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true })
    },
    /** Gives a large store's space back at once (any kind); `cleanup()` would do it later. */
    async remove(url) {
      if (url.startsWith('sqlite:')) this.removeSqlite(url)
      else if (url.startsWith('mysql:')) {
        const name = new URL(url).pathname.slice(1)
        await dropDatabases([name])
        databases.splice(databases.indexOf(name), 1)
      } else if (url.startsWith('redis:')) {
        const prefix = new URL(url).searchParams.get('prefix')
        await deleteRedisPrefixes([prefix])
        prefixes.splice(prefixes.indexOf(prefix), 1)
      }
    },
    async cleanup() {
      rmSync(dir, { recursive: true, force: true })
      await Promise.allSettled([
        dropSchemas(schemas),
        dropDatabases(databases),
        deleteRedisPrefixes(prefixes),
      ])
    },
  }
}

async function dropSchemas(schemas) {
  if (schemas.length === 0) return
  const client = new pg.Client({
    connectionString: POSTGRES_URL,
    connectionTimeoutMillis: 3000,
  })
  try {
    await client.connect()
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  } catch (error) {
    progress(`could not drop the bench schemas ${schemas.join(', ')}: ${error.message}`)
  } finally {
    await client.end().catch(() => undefined)
  }
}

async function dropDatabases(names) {
  if (names.length === 0) return
  let connection
  try {
    connection = await mariadbConnection()
    for (const name of names)
      await withTimeout(
        connection.query(`DROP DATABASE IF EXISTS \`${name}\``),
        120_000,
        `DROP DATABASE ${name}`,
      )
  } catch (error) {
    progress(`could not drop the bench databases ${names.join(', ')}: ${error.message}`)
  } finally {
    await connection?.end().catch(() => undefined)
  }
}

/** Deletes every key under the prefixes: SCAN and UNLINK in batches, bounded in time. */
async function deleteRedisPrefixes(prefixes) {
  if (prefixes.length === 0) return
  let redis
  try {
    redis = await connectRedis(REDIS_URL)
    const deadline = Date.now() + 300_000
    for (const prefix of prefixes) {
      // The prefixes are made of [a-z0-9_:] only: nothing to escape in the pattern.
      let cursor = '0'
      let rounds = 0
      do {
        if (Date.now() > deadline || ++rounds > 1_000_000)
          throw new Error(`deleting the keys of ${prefix} took too long`)
        const [next, keys] = await redis.command(
          ['SCAN', cursor, 'MATCH', `${prefix}*`, 'COUNT', '5000'],
          30_000,
        )
        if (keys.length) await redis.command(['UNLINK', ...keys], 30_000)
        cursor = next
      } while (cursor !== '0')
    }
  } catch (error) {
    progress(`could not delete the bench keys ${prefixes.join(', ')} from Redis: ${error.message}`)
  } finally {
    redis?.close()
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

/** Null if MariaDB answers at MARIADB_URL, else the reason it does not. */
export async function mariadbProblem() {
  let connection
  try {
    connection = await withTimeout(mariadbConnection(), 5000, 'connecting to MariaDB')
    await withTimeout(connection.query('SELECT 1'), 3000, 'SELECT 1')
    return null
  } catch (error) {
    return `MariaDB is not reachable at ${MARIADB_URL}: ${error.message}`
  } finally {
    await connection?.end().catch(() => undefined)
  }
}

/** The MariaDB server's version (`SELECT VERSION()`). */
export async function mariadbVersion() {
  const connection = await mariadbConnection()
  try {
    const [rows] = await connection.query('SELECT VERSION() AS version')
    return String(rows[0].version)
  } finally {
    await connection.end().catch(() => undefined)
  }
}

/**
 * Null if Redis answers PING at REDIS_URL and Outbox's store opens a redis:// URL, else the
 * reason. The store is tried on a prefix of its own, whose keys are deleted afterwards.
 */
export async function redisProblem() {
  let redis
  try {
    redis = await connectRedis(REDIS_URL)
    const pong = await redis.command(['PING'], 3000)
    if (pong !== 'PONG') return `Redis at ${REDIS_URL} answered PING with ${JSON.stringify(pong)}`
  } catch (error) {
    return `Redis is not reachable at ${REDIS_URL}: ${error.message}`
  } finally {
    redis?.close()
  }
  const { openStore } = await import('../dist/store/open-store.js')
  const prefix = `bench:probe:${randomBytes(3).toString('hex')}:`
  const url = new URL(REDIS_URL)
  url.searchParams.set('prefix', prefix)
  try {
    const store = await withTimeout(openStore(url.toString()), 10_000, 'opening a Redis store')
    await store.close()
    return null
  } catch (error) {
    if (error?.name === 'ConfigError' && /scheme/i.test(error.message))
      return `this build of Outbox has no Redis store (${error.message})`
    return `Outbox could not open a Redis store at ${REDIS_URL}: ${error.message}`
  } finally {
    await deleteRedisPrefixes([prefix])
  }
}

/** The Redis server's version (INFO server). */
export async function redisVersion() {
  const redis = await connectRedis(REDIS_URL)
  try {
    const info = await redis.command(['INFO', 'server'], 3000)
    return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown'
  } finally {
    redis.close()
  }
}

/**
 * A minimal Redis client over node:net (RESP2; the bench needs no more and ioredis is not a
 * dependency): `command(args, timeoutMs)` resolves with the reply (errors reject). Loopback or
 * whatever REDIS_URL names; AUTH and SELECT from the URL.
 */
export async function connectRedis(redisUrl) {
  const url = new URL(redisUrl)
  const socket = connect({ host: url.hostname || '127.0.0.1', port: Number(url.port || 6379) })
  socket.setNoDelay(true)
  let buffer = Buffer.alloc(0)
  const waiting = []
  let failure = null
  const failAll = (error) => {
    failure ??= error
    while (waiting.length) waiting.shift().reject(failure)
  }
  socket.on('data', (chunk) => {
    buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk
    for (;;) {
      let parsed
      try {
        parsed = parseResp(buffer, 0)
      } catch (error) {
        failAll(error)
        socket.destroy()
        return
      }
      if (!parsed) break
      buffer = buffer.subarray(parsed.end)
      const next = waiting.shift()
      if (!next) continue
      if (parsed.value instanceof Error) next.reject(parsed.value)
      else next.resolve(parsed.value)
    }
  })
  socket.on('error', failAll)
  socket.on('close', () => failAll(new Error('the Redis connection closed')))
  await withTimeout(
    new Promise((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    }),
    3000,
    `connecting to Redis at ${url.host}`,
  )
  const client = {
    command(args, timeoutMs = 10_000) {
      if (failure) return Promise.reject(failure)
      const reply = new Promise((resolve, reject) => waiting.push({ resolve, reject }))
      const parts = [`*${args.length}\r\n`]
      for (const arg of args) parts.push(`$${Buffer.byteLength(String(arg))}\r\n${arg}\r\n`)
      socket.write(parts.join(''))
      return withTimeout(reply, timeoutMs, `Redis ${args[0]}`)
    },
    close() {
      socket.destroy()
    },
  }
  try {
    const password = decodeURIComponent(url.password)
    if (password) {
      const user = decodeURIComponent(url.username)
      await client.command(user ? ['AUTH', user, password] : ['AUTH', password], 3000)
    }
    const db = url.pathname.slice(1)
    if (db && db !== '0') await client.command(['SELECT', db], 3000)
  } catch (error) {
    client.close()
    throw error
  }
  return client
}

/** One RESP2 reply from `buf` at `at`: `{ value, end }`, or null when it is not all there yet. */
function parseResp(buf, at) {
  const eol = buf.indexOf('\r\n', at)
  if (eol < 0) return null
  const type = String.fromCharCode(buf[at])
  const line = buf.toString('utf8', at + 1, eol)
  const end = eol + 2
  if (type === '+') return { value: line, end }
  if (type === '-') return { value: new Error(line), end }
  if (type === ':') return { value: Number(line), end }
  if (type === '$') {
    const length = Number(line)
    if (length < 0) return { value: null, end }
    if (buf.length < end + length + 2) return null
    return { value: buf.toString('utf8', end, end + length), end: end + length + 2 }
  }
  if (type === '*') {
    const count = Number(line)
    if (count < 0) return { value: null, end }
    const values = []
    let position = end
    for (let i = 0; i < count; i++) {
      const item = parseResp(buf, position)
      if (!item) return null
      values.push(item.value)
      position = item.end
    }
    return { value: values, end: position }
  }
  throw new Error(`unexpected Redis reply type ${JSON.stringify(type)}`)
}
