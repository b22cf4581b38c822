import Database from 'better-sqlite3'
import { existsSync } from 'node:fs'
import { dirname } from 'node:path'
import { ConfigError, ErrorCodes, OutboxError, StoreUnavailableError } from '../../errors.js'
import type { Query, Row, SqlDriver, SqlTransaction } from '../sql/driver.js'
import { watchForeignCommits } from './foreign-commits.js'
import { migrateSqlite } from './migrate.js'

/** Options of {@link openSqliteDriver}. */
export interface SqliteDriverOptions {
  /** Absolute path of the database file, or `:memory:`. Its folder must exist. */
  path: string
  /** Create a missing queue, or refuse (see the store's `ifMissing`). */
  ifMissing: 'create' | 'refuse'
  /** How long a write waits for another process holding the database lock. */
  busyTimeoutMs: number
}

/** The SQLite driver, with what tests and benchmarks look at. */
export interface SqliteDriver extends SqlDriver {
  /** Transactions committed so far (a group commit counts once). */
  readonly commits: number
  /** Reads a pragma on the driver's connection (e.g. `synchronous`). */
  pragma(name: string): unknown
}

/** Most prepared statements kept; the statements of filters vary with the filter. */
const MAX_PREPARED = 500

/**
 * One better-sqlite3 connection in WAL mode with `synchronous=FULL`: a resolved write survives
 * power loss. Throughput comes from group commit instead: transactions requested in the same
 * turn of the event loop run in one BEGIN … COMMIT (one fsync), each inside a savepoint of its
 * own so that one failing rolls back alone.
 *
 * Statements run synchronously (better-sqlite3 has no other way); the async interface lets the
 * engine treat every backend alike. A transaction's work awaits only this driver's statements,
 * which are settled at once, so no other work runs inside an open transaction.
 */
export function openSqliteDriver(options: SqliteDriverOptions): SqliteDriver {
  const { path } = options
  if (path !== ':memory:') checkLocation(path, options.ifMissing)
  let db: Database.Database
  try {
    db = new Database(path)
    db.pragma(`busy_timeout = ${options.busyTimeoutMs}`)
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
    // Statement journals and sorts in memory, not in files under TMPDIR: a process killed
    // between creating such a file and unlinking it (SQLite unlinks at once) would leave one
    // behind; durability is the WAL's, which this does not touch.
    db.pragma('temp_store = MEMORY')
    migrateSqlite(db)
  } catch (cause) {
    if (cause instanceof OutboxError) throw cause
    throw openFailure(path, cause)
  }

  const prepared = new Map<string, Database.Statement>()
  function statement(text: string): Database.Statement {
    let stmt = prepared.get(text)
    if (!stmt) {
      stmt = db.prepare(text)
      if (prepared.size >= MAX_PREPARED) prepared.delete(prepared.keys().next().value!)
      prepared.set(text, stmt)
    }
    return stmt
  }

  function run(query: Query): Row[] {
    const stmt = statement(query.text)
    // Placeholders are numbered (?1, ?2): better-sqlite3 binds those from an object's keys.
    const values: Record<number, unknown> = {}
    query.values.forEach((value, i) => (values[i + 1] = value))
    const args = query.values.length > 0 ? [values] : []
    if (stmt.reader) return stmt.all(...args) as Row[]
    stmt.run(...args)
    return []
  }

  const tx: SqlTransaction = { query: async (query) => run(query) }
  const savepoint = db.prepare('SAVEPOINT outbox_write')
  const release = db.prepare('RELEASE outbox_write')
  const rollbackTo = db.prepare('ROLLBACK TO outbox_write')
  const begin = db.prepare('BEGIN IMMEDIATE')
  const commit = db.prepare('COMMIT')
  const rollback = db.prepare('ROLLBACK')

  interface Pending {
    work: (tx: SqlTransaction) => Promise<unknown>
    resolve: (value: unknown) => void
    reject: (error: unknown) => void
  }
  let pending: Pending[] = []
  let flushing: Promise<void> | null = null
  let commits = 0
  let closed = false

  async function flush(): Promise<void> {
    const batch = pending
    pending = []
    if (batch.length === 0) return
    const results: { ok: boolean; value: unknown }[] = []
    try {
      begin.run()
      for (const item of batch) {
        savepoint.run()
        try {
          const value = await item.work(tx)
          release.run()
          results.push({ ok: true, value })
        } catch (error) {
          rollbackTo.run()
          release.run()
          results.push({ ok: false, value: error })
        }
      }
      commit.run()
      commits++
    } catch (cause) {
      if (db.inTransaction) rollback.run()
      for (const item of batch) item.reject(failure(cause))
      return
    }
    batch.forEach((item, i) => {
      const result = results[i]!
      if (result.ok) item.resolve(result.value)
      else item.reject(failure(result.value))
    })
  }

  function scheduleFlush(): void {
    // One flush at a time: a transaction requested during a flush goes in the next one.
    setImmediate(() => {
      flushing = (flushing ?? Promise.resolve()).then(flush).finally(() => {
        if (pending.length > 0) scheduleFlush()
        else flushing = null
      })
    })
  }

  function failure(cause: unknown): Error {
    if (cause instanceof OutboxError) return cause
    return new StoreUnavailableError(
      `The SQLite store at ${path} failed: ${(cause as Error).message}`,
      { cause },
    )
  }

  function transaction<T>(work: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (closed) return reject(new StoreUnavailableError('The SQLite store is closed.'))
      pending.push({ work, resolve: resolve as (value: unknown) => void, reject })
      if (pending.length === 1 && !flushing) scheduleFlush()
    })
  }

  return {
    get commits() {
      return commits
    },
    pragma: (name) => db.pragma(name, { simple: true }),
    groupsCommits: true,
    async query(query) {
      if (closed) throw new StoreUnavailableError('The SQLite store is closed.')
      return run(query)
    },
    write: (query) => transaction((t) => t.query(query)),
    transaction,
    onForeignCommit(listener) {
      return path === ':memory:' ? () => undefined : watchForeignCommits(db, path, listener)
    },
    failure,
    async close() {
      if (closed) return
      // Writes already requested are committed first.
      while (pending.length > 0 || flushing) {
        if (!flushing) await flush()
        else await flushing
        // A write requested during that flush goes in the next one, which setImmediate starts:
        // let it. (Awaiting the settled flush again and again would never let it run: close()
        // spun forever when a worker's last writes overlapped, seen in `outbox send`.)
        await new Promise((resolve) => setImmediate(resolve))
      }
      closed = true
      db.close()
    },
  }
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
