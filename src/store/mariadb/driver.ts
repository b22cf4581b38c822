import mysql from 'mysql2/promise'
import { ConfigError, OutboxError, StoreUnavailableError } from '../../errors.js'
import type { Logger } from '../../logger.js'
import type { Query, Row, SqlDriver, SqlTransaction } from '../sql/driver.js'
import { startCommitPoller } from './commit-poller.js'
import { isLockedChange } from './locked-change.js'
import { CLAIM_STATEMENT } from './claim-queries.js'
import { migrateMariadb } from './migrate.js'
import { toPositional } from './placeholders.js'
import { durabilityWarning } from './server-durability.js'
import { assertSupportedServer } from './server-version.js'

/** Options of {@link openMariadbDriver}. */
export interface MariadbDriverOptions {
  /** `mysql://user:pass@host:3306/db`, with only the driver's own parameters left. */
  uri: string
  prefix: string
  poolSize: number
  migrate: boolean
  ifMissing: 'create' | 'refuse'
  /** The statement the wake-up poll runs: `newest` (ms), `due` (0/1), `submitted` (a seq). */
  workMark: Query
  logger: Logger
}

/** Error codes meaning "the server is not there (or refuses us)", as opposed to a bad statement. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  'ER_ACCESS_DENIED_ERROR',
  'ER_BAD_DB_ERROR',
  'ER_SERVER_SHUTDOWN',
])
/**
 * How long after a claim that found messages this process's workers count as busy (and the
 * wake-up poll rests). Short: a worker that drained what it claimed goes idle and waits for a
 * wake-up, so a longer rest delayed each message of a trickle by as much (1 s measured with
 * 1,000 ms here).
 */
const BUSY_AFTER_CLAIM_MS = 50

/** InnoDB chose this transaction as a deadlock victim and rolled it back: run it again. */
const ER_LOCK_DEADLOCK = 1213
const DEADLOCK_RETRIES = 5

const isConnectionError = (error: unknown): boolean => {
  const e = error as { code?: string; fatal?: boolean }
  return CONNECTION_CODES.has(e.code ?? '') || e.fatal === true
}
const isDeadlock = (error: unknown): boolean =>
  (error as { errno?: number }).errno === ER_LOCK_DEADLOCK

/** What runs statements: the pool, one connection in a transaction, or the caller's connection. */
interface Runner {
  query(sql: string, values: unknown[]): Promise<unknown>
  execute?(sql: string, values: unknown[]): Promise<unknown>
}

type ExecuteValues = Parameters<mysql.Pool['execute']>[1]

/** The pool, or one of its connections, as a {@link Runner}. */
const runnerOf = (target: mysql.Pool | mysql.PoolConnection): Runner => ({
  query: (sql, values) => target.query(sql, values),
  execute: (sql, values) => target.execute(sql, values as ExecuteValues),
})

/** The rows of a result: mysql2 answers `[rows, fields]`, a write `[ResultSetHeader, …]`. */
function rowsOf(result: unknown): Row[] {
  if (!Array.isArray(result)) {
    throw new ConfigError(
      'options.db',
      'The MariaDB store enqueues in your transaction through a mysql2 connection (from mysql2/promise); this `db` is something else.',
    )
  }
  return Array.isArray(result[0]) ? (result[0] as Row[]) : []
}

/**
 * Runs one statement: a named one as a prepared statement (prepared once per connection, by
 * mysql2's statement cache), any other through the text protocol, whose values mysql2 escapes
 * (their text changes with a batch's size and would only fill the server's statement cache).
 */
async function runOne(runner: Runner, query: Query): Promise<Row[]> {
  const { sql, values } = toPositional(query)
  if (query.name && runner.execute) return rowsOf(await runner.execute(sql, values))
  return rowsOf(await runner.query(sql, values))
}

/** Runs a statement on a runner already inside a transaction, a locked change in full (its parts may be locked changes too). */
async function runInTransaction(runner: Runner, query: Query): Promise<Row[]> {
  if (!isLockedChange(query)) return runOne(runner, query)
  const locked = await runOne(runner, query)
  if (locked.length === 0) return []
  const { changes, result } = query.afterLock(locked.map((row) => String(row.id)))
  for (const change of changes) await runInTransaction(runner, change)
  return result ? runInTransaction(runner, result) : locked
}

/**
 * A pool of connections to MariaDB or MySQL, the server's version checked and the tables
 * migrated. Every connection reads committed data (READ COMMITTED): claims then take no gap
 * locks, so enqueues never wait behind them.
 */
export async function openMariadbDriver(options: MariadbDriverOptions): Promise<SqlDriver> {
  const log = options.logger
  const safeUrl = options.uri.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@')
  let closed = false

  function failure(cause: unknown): Error {
    if (cause instanceof OutboxError) return cause
    const message = (cause as Error).message
    return new StoreUnavailableError(
      isConnectionError(cause)
        ? `MariaDB at ${safeUrl} is unreachable (${message}); nothing was stored. Retry when it is back.`
        : `MariaDB store failed: ${message}`,
      { cause },
    )
  }

  let durabilityRisk: string | null = null
  try {
    const setup = await mysql.createConnection({
      uri: options.uri,
      multipleStatements: true,
      connectTimeout: 5000,
    })
    try {
      const [[row]] = await setup.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v')
      assertSupportedServer(String(row?.v))
      const [[flush]] = await setup.query<mysql.RowDataPacket[]>(
        'SELECT @@innodb_flush_log_at_trx_commit AS value',
      )
      const flushSetting: unknown = flush?.value
      durabilityRisk = durabilityWarning(flushSetting)
      if (durabilityRisk) log.warn({ innodbFlushLogAtTrxCommit: flushSetting }, durabilityRisk)
      await migrateMariadb(setup, options.prefix, {
        apply: options.migrate,
        ifMissing: options.ifMissing,
      })
    } finally {
      await setup.end().catch(() => undefined)
    }
  } catch (error) {
    throw failure(error)
  }

  const pool = mysql.createPool({
    uri: options.uri,
    connectionLimit: options.poolSize,
    connectTimeout: 5000,
    // Only the store's few named statements are prepared.
    maxPreparedStatements: 64,
    // BIGINT times and counts as numbers (exact below 2^53), DECIMAL sums as numbers.
    supportBigNumbers: true,
    bigNumberStrings: false,
    decimalNumbers: true,
  })
  pool.pool.on('connection', (connection) => {
    // Statements queue on a connection in order: these run before anything else on it.
    connection.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED')
    // The pending recipients of a claimed message come back as one concatenated JSON list.
    connection.query('SET SESSION group_concat_max_len = 67108864')
  })
  // An idle connection losing its server (a restart) emits here; without a listener it would crash.
  pool.on('error' as 'connection', (error: unknown) =>
    log.warn({ err: (error as Error).message }, 'MariaDB connection lost; will reconnect'),
  )

  const poolRunner = runnerOf(pool)

  const assertOpen = (): void => {
    if (closed) throw new StoreUnavailableError('The MariaDB store is closed.')
  }

  async function transaction<T>(work: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      assertOpen()
      const connection = await pool.getConnection()
      let broken = false
      try {
        await connection.beginTransaction()
        const result = await work({
          query: (query) => runInTransaction(runnerOf(connection), query),
        })
        await connection.commit()
        return result
      } catch (error) {
        await connection.rollback().catch(() => {
          broken = true
        })
        if (!isDeadlock(error) || attempt >= DEADLOCK_RETRIES) throw error
        // A deadlock victim was rolled back whole: running it again is safe.
        await new Promise((resolve) => setTimeout(resolve, 5 * attempt * Math.random()))
      } finally {
        if (broken) connection.destroy()
        else connection.release()
      }
    }
  }

  // When a claim last found messages: the wake-up poll rests while workers are busy.
  let lastFruitfulClaim = 0

  /** One statement: alone (it commits by itself) unless it is a locked change. */
  async function single(query: Query): Promise<Row[]> {
    assertOpen()
    if (!isLockedChange(query)) return runOne(poolRunner, query)
    const rows = await transaction((tx) => tx.query(query))
    if (query.name === CLAIM_STATEMENT && rows.length > 0) lastFruitfulClaim = Date.now()
    return rows
  }

  return {
    ...(durabilityRisk ? { durabilityWarning: durabilityRisk } : {}),
    query: single,
    write: single,
    transaction,
    async inExternalTransaction(external, work) {
      // The caller's own connection inside its transaction: it commits or rolls back, not us.
      const runner: Runner = { query: (sql, values) => external.query(sql, values) }
      return work({ query: (query) => runInTransaction(runner, query) })
    },
    onForeignCommit(listener) {
      return startCommitPoller({
        read: async () => {
          const row = (await runOne(poolRunner, options.workMark))[0] ?? {}
          return {
            newest: row.newest == null ? null : Number(row.newest),
            due: Number(row.due) === 1,
            submitted: row.submitted == null ? null : Number(row.submitted),
          }
        },
        busy: () => Date.now() - lastFruitfulClaim < BUSY_AFTER_CLAIM_MS,
        onWork: listener,
        logger: log,
      })
    },
    failure,
    async close() {
      if (closed) return
      closed = true
      await pool.end()
    },
  }
}
