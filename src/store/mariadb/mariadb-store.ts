import { ConfigError } from '../../errors.js'
import type { Logger } from '../../logger.js'
import { silentLogger } from '../../logger.js'
import { createSqlStore } from '../sql/sql-store.js'
import type { Store } from '../store.js'
import { openMariadbDriver } from './driver.js'
import { createMariadbDialect } from './queries.js'

/** Options of the MariaDB/MySQL store. */
export interface MariadbStoreOptions {
  /** `mysql://user:pass@host:3306/db` (or `mariadb://`); further parameters go to mysql2. */
  uri: string
  /**
   * Prefix of Outbox's table names, so that the queue can share a database with the application.
   * @default 'outbox_'
   */
  prefix?: string
  /** @default 10 */
  poolSize?: number
  /**
   * Apply pending migrations when opening. When false, tables behind the code are refused with
   * a message saying to run `outbox migrate`.
   * @default true
   */
  migrate?: boolean
  /** What to do when the database holds no Outbox queue yet; see the PostgreSQL store. */
  ifMissing?: 'create' | 'refuse'
  logger?: Logger
}

/** A plain lower-case table name prefix; anything else is refused (it is written into SQL). */
export function checkPrefix(prefix: string): string {
  if (!/^[a-z][a-z0-9_]{0,31}$/.test(prefix)) {
    throw new ConfigError(
      'store',
      `The MariaDB table prefix ${JSON.stringify(prefix)} is not a plain lower-case name (a-z, 0-9, _; up to 32).`,
    )
  }
  return prefix
}

/**
 * Opens a MariaDB (10.6+) or MySQL (8.0+) queue: the queue engine over a mysql2 pool. Many
 * workers on many machines share it, claiming with `FOR UPDATE SKIP LOCKED` and leases; every
 * time that decides correctness is the database's clock. Workers in other processes learn of
 * new mail by a short poll (there is no NOTIFY).
 */
export async function createMariadbStore(options: MariadbStoreOptions): Promise<Store> {
  const prefix = checkPrefix(options.prefix ?? 'outbox_')
  const logger = options.logger ?? silentLogger
  const dialect = createMariadbDialect(prefix)
  const driver = await openMariadbDriver({
    uri: options.uri.replace(/^mariadb:/, 'mysql:'),
    prefix,
    poolSize: options.poolSize ?? 10,
    migrate: options.migrate ?? true,
    ifMissing: options.ifMissing ?? 'create',
    workMark: dialect.workMark(),
    logger,
  })
  return createSqlStore({ driver, dialect, logger })
}
