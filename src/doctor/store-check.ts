import { submissionsLine } from './submissions-check.js'
import Database from 'better-sqlite3'
import { existsSync, readFileSync, realpathSync } from 'node:fs'
import { dirname, resolve, sep } from 'node:path'
import { redactUrl } from '../delivery/upstream.js'
import { silentLogger } from '../logger.js'
import { durabilityWarning } from '../store/mariadb/server-durability.js'
import { loadMigrations } from '../store/migrations.js'
import { checkDurability } from '../store/redis/durability.js'
import { fail, ok, reason, warn, withTimeout, type CheckResult } from './check.js'

/** How long the store may take to answer. */
export const STORE_TIMEOUT_MS = 5000

/** Filesystem types on which SQLite's locking and fsync cannot be trusted. */
const NETWORK_FS = /^(nfs\d?|cifs|smb\d?|smbfs|fuse\.sshfs|9p|afs|ceph|glusterfs|fuse\.glusterfs)$/

function latestVersion(backend: 'sqlite' | 'postgres' | 'mariadb'): number {
  return loadMigrations(new URL(`../store/${backend}/migrations/`, import.meta.url)).length
}

/** The schema line: the version found against the versions this Outbox knows. */
function schemaLine(current: number | null, latest: number, where: string): CheckResult {
  if (current === null || current === 0)
    return fail('store schema', `no Outbox schema in ${where}`, 'run outbox migrate')
  if (current > latest)
    return fail(
      'store schema',
      `version ${current}, newer than this Outbox knows (up to ${latest})`,
      'a newer Outbox upgraded it: upgrade this installation of outbox too',
    )
  if (current < latest)
    return fail(
      'store schema',
      `version ${current}, this Outbox needs ${latest}`,
      'run outbox migrate (outbox start migrates too)',
    )
  return ok('store schema', `version ${current}, current`)
}

/** The database file a `sqlite:` URL names, as open-store.ts reads it, or null for `:memory:`. */
export function sqliteFile(url: string): string | null {
  let path = url.slice('sqlite:'.length)
  if (path.startsWith('//')) path = path.slice(2)
  path = path.replace(/\?thread=(true|false)$/, '')
  return !path || path === ':memory:' ? null : resolve(path)
}

/** The mount holding `path` (the longest mount point above it), from /proc/mounts. */
export function mountOf(path: string): { point: string; type: string; source: string } | null {
  let text: string
  try {
    text = readFileSync('/proc/mounts', 'utf8')
  } catch {
    return null
  }
  let best: { point: string; type: string; source: string } | null = null
  for (const line of text.split('\n')) {
    const [source, rawPoint, type] = line.split(' ')
    if (!source || !rawPoint || !type) continue
    // Spaces and the like are octal escapes in /proc/mounts.
    const point = rawPoint.replace(/\\([0-7]{3})/g, (_, o: string) =>
      String.fromCharCode(parseInt(o, 8)),
    )
    const inside = point === '/' || path === point || path.startsWith(point + sep)
    if (inside && (!best || point.length >= best.point.length)) best = { point, type, source }
  }
  return best
}

function checkSqlite(url: string): CheckResult[] {
  const path = sqliteFile(url)
  if (path === null)
    return [
      warn(
        'store',
        'an in-memory SQLite store: queued mail is lost when the process ends',
        'use a file, such as sqlite:/var/lib/outbox/outbox.db',
      ),
    ]
  if (!existsSync(path))
    return [
      fail(
        'store',
        `no queue at ${path}`,
        'run outbox migrate or outbox start (or check the store path: --store, OUTBOX_STORE)',
      ),
    ]
  const results: CheckResult[] = []
  let db: Database.Database
  try {
    db = new Database(path, { readonly: true, fileMustExist: true })
  } catch (error) {
    return [
      fail('store', `cannot open ${path}: ${reason(error)}`, 'check the file and its permissions'),
    ]
  }
  try {
    db.pragma('busy_timeout = 5000')
    const hasTable = db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'outbox_migrations'")
      .get()
    results.push(ok('store', `SQLite ${path}, readable`))
    const current = hasTable
      ? ((
          db.prepare('SELECT max(version) AS v FROM outbox_migrations').get() as {
            v: number | null
          }
        ).v ?? 0)
      : null
    results.push(schemaLine(current, latestVersion('sqlite'), path))
    const journal = String(db.pragma('journal_mode', { simple: true }))
    // synchronous is a connection's setting: Outbox sets FULL on each of its connections.
    results.push(
      journal === 'wal'
        ? ok(
            'store durability',
            'journal_mode wal; Outbox sets synchronous FULL on its connections',
          )
        : ok(
            'store durability',
            `journal_mode ${journal}; Outbox switches it to wal and sets synchronous FULL when it opens the file`,
          ),
    )
  } catch (error) {
    const code = (error as { code?: unknown }).code
    results.push(
      fail(
        'store',
        code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT'
          ? `${path} is not an Outbox database or is damaged: ${reason(error)}`
          : `cannot read ${path}: ${reason(error)}`,
        'check the store path (--store, OUTBOX_STORE); restore a backup if it is damaged',
      ),
    )
  } finally {
    db.close()
  }
  let real = path
  try {
    real = realpathSync(dirname(path))
  } catch {
    // The folder exists (the file does): keep the path as written.
  }
  const mount = mountOf(real)
  if (mount && NETWORK_FS.test(mount.type)) {
    results.push(
      warn(
        'store filesystem',
        `${path} is on a network filesystem (${mount.type} ${mount.source} at ${mount.point})`,
        'SQLite locking and fsync are unreliable there: put the file on a local disk, or use PostgreSQL',
      ),
    )
  }
  return results
}

async function checkPostgres(url: string): Promise<CheckResult[]> {
  const where = redactUrl(url)
  const parsed = new URL(url)
  const schemaName = parsed.searchParams.get('schema') ?? 'outbox'
  for (const own of ['schema', 'migrate', 'poolSize']) parsed.searchParams.delete(own)
  const { default: pg } = await import('pg')
  const client = new pg.Client({
    connectionString: parsed.toString(),
    connectionTimeoutMillis: STORE_TIMEOUT_MS,
    query_timeout: STORE_TIMEOUT_MS,
  })
  client.on('error', () => {})
  try {
    await withTimeout(client.connect(), STORE_TIMEOUT_MS, `connecting to ${where}`)
  } catch (error) {
    await client.end().catch(() => undefined)
    return [
      fail(
        'store',
        `cannot reach PostgreSQL at ${where}: ${reason(error)}`,
        'check the server, the URL and its credentials',
      ),
    ]
  }
  const results: CheckResult[] = [ok('store', `PostgreSQL at ${where}, reachable`)]
  try {
    const quoted = `"${schemaName.replaceAll('"', '""')}"`
    const found = await client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [
      `${quoted}.outbox_migrations`,
    ])
    let current: number | null = null
    if (found.rows[0]?.t != null) {
      const row = await client.query<{ v: number | null }>(
        `SELECT max(version) AS v FROM ${quoted}.outbox_migrations`,
      )
      current = Number(row.rows[0]?.v ?? 0)
    }
    results.push(schemaLine(current, latestVersion('postgres'), `schema ${schemaName}`))
    const submissions = await client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [
      `${quoted}.submissions`,
    ])
    if (submissions.rows[0]?.t != null) {
      const { rows } = await client.query<{
        waiting: number
        refused: number
        oldest: number | null
        last_error: string | null
      }>(
        `SELECT count(*) FILTER (WHERE error IS NULL)::int AS waiting,
           count(*) FILTER (WHERE error IS NOT NULL)::int AS refused,
           extract(epoch FROM now() - min(created_at) FILTER (WHERE error IS NULL))::float8 AS oldest,
           (SELECT error FROM ${quoted}.submissions WHERE error IS NOT NULL ORDER BY seq DESC LIMIT 1) AS last_error
         FROM ${quoted}.submissions`,
      )
      const row = rows[0]!
      results.push(
        submissionsLine(
          {
            waiting: row.waiting,
            refused: row.refused,
            oldestSeconds: row.oldest,
            lastError: row.last_error,
          },
          `${schemaName}.submissions`,
        ),
      )
    }
    const fsync = (await client.query<{ fsync: string }>('SHOW fsync')).rows[0]?.fsync
    const commit = (await client.query<{ synchronous_commit: string }>('SHOW synchronous_commit'))
      .rows[0]?.synchronous_commit
    if (fsync === 'off')
      results.push(
        fail(
          'store durability',
          'fsync off: a crash of the server can lose or corrupt committed mail',
          'set fsync = on in postgresql.conf and reload',
        ),
      )
    else if (commit === 'off')
      results.push(
        fail(
          'store durability',
          `fsync ${fsync}, synchronous_commit off: commits are acknowledged before they are on disk`,
          'set synchronous_commit = on (in postgresql.conf, or ALTER ROLE/DATABASE … SET synchronous_commit = on)',
        ),
      )
    else results.push(ok('store durability', `fsync ${fsync}, synchronous_commit ${commit}`))
  } catch (error) {
    results.push(
      fail(
        'store',
        `query failed on ${where}: ${reason(error)}`,
        'check the server and its permissions',
      ),
    )
  } finally {
    await client.end().catch(() => undefined)
  }
  return results
}

async function checkMariadb(url: string): Promise<CheckResult[]> {
  const where = redactUrl(url)
  const parsed = new URL(url)
  const prefix = parsed.searchParams.get('prefix') ?? 'outbox_'
  for (const own of ['prefix', 'migrate', 'poolSize']) parsed.searchParams.delete(own)
  if (parsed.protocol === 'mariadb:') parsed.protocol = 'mysql:'
  const mysql = await import('mysql2/promise')
  let connection: Awaited<ReturnType<typeof mysql.createConnection>>
  try {
    connection = await withTimeout(
      mysql.createConnection({ uri: parsed.toString(), connectTimeout: STORE_TIMEOUT_MS }),
      STORE_TIMEOUT_MS,
      `connecting to ${where}`,
    )
  } catch (error) {
    return [
      fail(
        'store',
        `cannot reach MariaDB/MySQL at ${where}: ${reason(error)}`,
        'check the server, the URL and its credentials',
      ),
    ]
  }
  const results: CheckResult[] = [ok('store', `MariaDB/MySQL at ${where}, reachable`)]
  try {
    const table = `${prefix}migrations`
    const [found] = await connection.query(
      'SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?',
      [table],
    )
    let current: number | null = null
    if ((found as unknown[]).length > 0) {
      const [rows] = await connection.query(
        `SELECT COALESCE(MAX(version), 0) AS v FROM \`${table}\``,
      )
      current = Number((rows as { v: unknown }[])[0]?.v ?? 0)
    }
    results.push(schemaLine(current, latestVersion('mariadb'), `tables ${prefix}*`))
    const [rows] = await connection.query('SELECT @@innodb_flush_log_at_trx_commit AS v')
    const value = (rows as { v: unknown }[])[0]?.v
    const warning = durabilityWarning(value)
    results.push(
      warning
        ? warn('store durability', `innodb_flush_log_at_trx_commit ${String(value)}`, warning)
        : ok('store durability', 'innodb_flush_log_at_trx_commit 1'),
    )
  } catch (error) {
    results.push(
      fail(
        'store',
        `query failed on ${where}: ${reason(error)}`,
        'check the server and its permissions',
      ),
    )
  } finally {
    await connection.end().catch(() => undefined)
  }
  return results
}

async function checkRedis(url: string): Promise<CheckResult[]> {
  const where = redactUrl(url)
  const parsed = new URL(url)
  for (const own of ['prefix', 'durability', 'wait', 'waitTimeout']) parsed.searchParams.delete(own)
  const { Redis } = await import('ioredis')
  const client = new Redis(parsed.toString(), {
    lazyConnect: true,
    connectTimeout: STORE_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  })
  client.on('error', () => {})
  try {
    await withTimeout(client.connect(), STORE_TIMEOUT_MS, `connecting to ${where}`)
  } catch (error) {
    client.disconnect()
    return [
      fail(
        'store',
        `cannot reach Redis at ${where}: ${reason(error)}`,
        'check the server, the URL and its password',
      ),
    ]
  }
  const results: CheckResult[] = [
    ok('store', `Redis at ${where}, reachable (Redis keeps no schema version)`),
  ]
  try {
    const report = await checkDurability(client, 'warn', where, silentLogger)
    const found = `appendonly ${report.appendonly ?? '?'}, appendfsync ${report.appendfsync ?? '?'}, maxmemory-policy ${report.maxmemoryPolicy ?? '?'}`
    if (report.appendonly !== null && report.appendonly !== 'yes')
      results.push(
        fail(
          'store durability',
          found,
          'turn on the append-only file: CONFIG SET appendonly yes, and appendonly yes plus appendfsync always in redis.conf',
        ),
      )
    else if (report.risk)
      results.push(
        warn(
          'store durability',
          report.risk,
          'use appendonly yes and appendfsync always (in redis.conf)',
        ),
      )
    else results.push(ok('store durability', found))
  } catch (error) {
    // checkDurability refuses a server that evicts keys.
    results.push(fail('store durability', reason(error), 'set maxmemory-policy noeviction'))
  } finally {
    client.disconnect()
  }
  return results
}

/** The store lines: reachable, schema current, durability settings. Never creates a store. */
export async function checkStore(url: string): Promise<CheckResult[]> {
  try {
    if (url.startsWith('sqlite:')) return checkSqlite(url)
    if (/^postgres(ql)?:\/\//.test(url)) return await checkPostgres(url)
    if (/^(mysql|mariadb):\/\//.test(url)) return await checkMariadb(url)
    if (/^rediss?:\/\//.test(url)) return await checkRedis(url)
  } catch (error) {
    return [
      fail(
        'store',
        `${redactUrl(url)}: ${reason(error)}`,
        'check the store URL (--store, OUTBOX_STORE)',
      ),
    ]
  }
  return [
    fail(
      'store',
      `${redactUrl(url)} is not a store URL`,
      'use sqlite:PATH, postgres://…, mysql://… or redis://…',
    ),
  ]
}
