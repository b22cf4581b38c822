import type { Logger } from '../../logger.js'
import { silentLogger } from '../../logger.js'
import { createSqlStore } from '../sql/sql-store.js'
import type { Store } from '../store.js'
import { openPostgresDriver, quoteSchema } from './driver.js'
import { createPostgresDialect } from './queries.js'

export { quoteSchema }

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

/**
 * Opens a PostgreSQL queue: the queue engine over a connection pool. Many workers on many
 * machines share it, claiming with `FOR UPDATE SKIP LOCKED` and leases, and wake on
 * LISTEN/NOTIFY. Every time that decides correctness is the database's `now()`.
 */
export async function createPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const schemaName = options.schema ?? 'outbox'
  const schema = quoteSchema(schemaName)
  const channel = `outbox:${schemaName}`
  const logger = options.logger ?? silentLogger
  const driver = await openPostgresDriver({
    connectionString: options.connectionString,
    schemaName,
    schema,
    channel,
    poolSize: options.poolSize ?? 10,
    migrate: options.migrate ?? true,
    ifMissing: options.ifMissing ?? 'create',
    logger,
  })
  return createSqlStore({ driver, dialect: createPostgresDialect(schema, channel), logger })
}
