import pg from 'pg'
import { ConfigError, OutboxError, StoreUnavailableError } from '../../errors.js'
import type { Logger } from '../../logger.js'
import type { Query, Row, SqlDriver, SqlTransaction } from '../sql/driver.js'
import { createNotificationListener } from './listener.js'
import { migratePostgres } from './migrate.js'

/** Options of {@link openPostgresDriver}. */
export interface PostgresDriverOptions {
  connectionString: string
  /** The schema's name, and quoted for SQL. */
  schemaName: string
  schema: string
  /** The channel enqueues NOTIFY, for other processes' workers. */
  channel: string
  poolSize: number
  migrate: boolean
  ifMissing: 'create' | 'refuse'
  logger: Logger
}

/** A plain lower-case identifier, quoted for SQL; anything else is refused. */
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

type Runner = { query: (config: pg.QueryConfig) => Promise<pg.QueryResult<Row>> }

/** Runs a query, prepared once per connection when it has a name. */
function runOn(runner: Runner, query: Query): Promise<Row[]> {
  const config: pg.QueryConfig = { text: query.text, values: query.values }
  if (query.name) config.name = `outbox_${query.name}`
  return runner.query(config).then((result) => result.rows)
}

/**
 * A pool of connections to PostgreSQL (plus one for LISTEN), with the schema migrated. A
 * statement that needs no transaction runs on its own (no BEGIN and COMMIT round trips).
 */
export async function openPostgresDriver(options: PostgresDriverOptions): Promise<SqlDriver> {
  const log = options.logger
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.poolSize,
    connectionTimeoutMillis: 5000,
    application_name: 'outbox',
    // Outbox's queries are short index lookups. With statistics not yet caught up (say, right
    // after a million rows arrived) their cost estimates pass jit_above_cost, and compiling
    // them took 100 ms per claim in the benchmark instead of 0.3 ms.
    // The statements run per message are prepared (named); left to choose, PostgreSQL planned
    // the insert, the claim and the outcome afresh at every run (0.3 to 0.8 ms of each), as
    // their array parameters make the one cached plan look costlier than it is. The cached
    // plan is as good (measured: each also ran faster) and only prepared statements use it.
    options: '-c jit=off -c plan_cache_mode=force_generic_plan',
  })
  // An idle client losing its server (a restart) emits here; without a listener it would crash.
  pool.on('error', (error) =>
    log.warn({ err: error.message }, 'PostgreSQL connection lost; will reconnect'),
  )
  const safeUrl = options.connectionString.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@')
  let closed = false

  function failure(cause: unknown): Error {
    if (cause instanceof OutboxError) return cause
    const message = (cause as Error).message
    return new StoreUnavailableError(
      isConnectionError(cause)
        ? `PostgreSQL at ${safeUrl} is unreachable (${message}); nothing was stored. Retry when it is back.`
        : `PostgreSQL store failed: ${message}`,
      { cause },
    )
  }

  try {
    await migratePostgres(pool, options.schemaName, options.schema, {
      apply: options.migrate,
      ifMissing: options.ifMissing,
    })
  } catch (error) {
    await pool.end().catch(() => undefined)
    throw failure(error)
  }

  const poolRunner: Runner = { query: (config) => pool.query<Row>(config) }

  async function transaction<T>(work: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    if (closed) throw new StoreUnavailableError('The PostgreSQL store is closed.')
    const client = await pool.connect()
    let broken = false
    try {
      await client.query('BEGIN')
      const result = await work({ query: (query) => runOn(client, query) })
      await client.query('COMMIT')
      return result
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {
        broken = true
      })
      throw error
    } finally {
      client.release(broken)
    }
  }

  return {
    async query(query) {
      if (closed) throw new StoreUnavailableError('The PostgreSQL store is closed.')
      return runOn(poolRunner, query)
    },
    // One statement is atomic on its own: it commits by itself, with no round trips around it.
    async write(query) {
      if (closed) throw new StoreUnavailableError('The PostgreSQL store is closed.')
      return runOn(poolRunner, query)
    },
    transaction,
    async inExternalTransaction(external, work) {
      // The caller's own client inside its BEGIN: it commits or rolls back, not us.
      return work({
        query: async (query) =>
          ((await external.query(query.text, query.values)) as pg.QueryResult<Row>).rows,
      })
    },
    onForeignCommit(listener) {
      const notifications = createNotificationListener({
        connectionString: options.connectionString,
        channel: options.channel,
        logger: log,
        onNotify: listener,
      })
      notifications.start()
      return () => notifications.stop()
    },
    failure,
    async close() {
      if (closed) return
      closed = true
      await pool.end()
    },
  }
}
