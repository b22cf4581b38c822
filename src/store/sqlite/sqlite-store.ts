import { resolve } from 'node:path'
import type { Logger } from '../../logger.js'
import { createSqlStore } from '../sql/sql-store.js'
import type { Store } from '../store.js'
import { openSqliteDriver } from './driver.js'
import { sqliteDialect } from './queries.js'

/** Options of the SQLite store. */
export interface SqliteStoreOptions {
  /** Path of the database file, or `:memory:`. Its folder must exist. */
  path: string
  /**
   * What to do when there is no queue at `path` yet: create it, or refuse (commands that
   * read or change an existing queue, where a typo in the path must not look like an empty
   * queue).
   * @default 'create'
   */
  ifMissing?: 'create' | 'refuse'
  /**
   * How long a write waits for another process holding the database lock.
   * @default 5000
   */
  busyTimeoutMs?: number
  logger?: Logger
}

/** The SQLite store, with diagnostics used by tests and benchmarks. */
export interface SqliteStore extends Store {
  /** Transactions committed so far (a group commit counts once). */
  readonly commits: number
  /** Reads a pragma on the store's own connection (e.g. `synchronous`). */
  pragma(name: string): unknown
}

/**
 * Opens (creating and migrating if needed) a SQLite queue: the queue engine over one
 * better-sqlite3 connection. Durability: WAL with `synchronous=FULL`; concurrent writes share
 * one commit (see the driver).
 */
export function createSqliteStore(options: SqliteStoreOptions): SqliteStore {
  const path = options.path === ':memory:' ? options.path : resolve(options.path)
  const driver = openSqliteDriver({
    path,
    ifMissing: options.ifMissing ?? 'create',
    busyTimeoutMs: options.busyTimeoutMs ?? 5000,
  })
  const store = createSqlStore({
    driver,
    dialect: sqliteDialect,
    ...(options.logger ? { logger: options.logger } : {}),
  })
  return Object.defineProperties(store, {
    commits: { get: () => driver.commits, enumerable: true },
    pragma: { value: (name: string) => driver.pragma(name), enumerable: true },
  }) as SqliteStore
}
