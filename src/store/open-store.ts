import type { Logger } from '../logger.js'
import type { Store } from './store.js'
import { parseStoreUrl } from './store-url.js'

/** Options of {@link openStore}. */
export interface OpenStoreOptions {
  logger?: Logger
  /**
   * When the URL names no queue yet: create one, or refuse with a `ConfigError` (for commands
   * that inspect or change an existing queue).
   * @default 'create'
   */
  ifMissing?: 'create' | 'refuse'
}

/**
 * Opens the store a URL names:
 * - `sqlite:./outbox.db`, `sqlite:/var/lib/outbox/queue.db`, `sqlite::memory:`; a file store
 *   runs in a thread of its own unless the URL ends in `?thread=false`
 * - `postgres://user:pass@host:5432/db` (or `postgresql://`), with optional query parameters
 *   `schema` (default `outbox`), `migrate=false` (refuse an outdated schema instead of
 *   upgrading it) and `poolSize`; other parameters go to the driver.
 * - `mysql://user:pass@host:3306/db` (or `mariadb://`, the same): MariaDB 10.6+ or MySQL 8.0+,
 *   with optional query parameters `prefix` (of the table names, default `outbox_`),
 *   `migrate=false` and `poolSize`; other parameters go to mysql2.
 * - `redis://[user:pass@]host:6379/0` (or `rediss://` for TLS), with optional query parameters
 *   `prefix` (of the keys, default `outbox:`), `durability=strict` (refuse a server that can
 *   lose acknowledged mail on a restart), `wait=N` and `waitTimeout` (ms; Redis `WAIT` for N
 *   replicas after each write); other parameters go to ioredis.
 */
export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  const parsed = parseStoreUrl(url)
  // Each backend is loaded only when a store of its kind is opened.
  switch (parsed.kind) {
    case 'sqlite': {
      const sqlite = {
        path: parsed.path,
        ...(options.ifMissing ? { ifMissing: options.ifMissing } : {}),
      }
      // A file database runs in a thread of its own (see threaded-store.ts); an in-memory one
      // lives and dies with this thread.
      if (parsed.thread && parsed.path !== ':memory:') {
        const { openThreadedStore } = await import('./thread/threaded-store.js')
        return openThreadedStore({ sqlite }, options.logger)
      }
      const { createSqliteStore } = await import('./sqlite/sqlite-store.js')
      return createSqliteStore({ ...sqlite, ...(options.logger ? { logger: options.logger } : {}) })
    }
    case 'postgres': {
      const { createPostgresStore } = await import('./postgres/postgres-store.js')
      return createPostgresStore({
        connectionString: parsed.connectionString,
        migrate: parsed.migrate,
        ...(parsed.schema ? { schema: parsed.schema } : {}),
        ...(parsed.poolSize ? { poolSize: parsed.poolSize } : {}),
        ...(options.logger ? { logger: options.logger } : {}),
        ...(options.ifMissing ? { ifMissing: options.ifMissing } : {}),
      })
    }
    case 'mariadb': {
      const { createMariadbStore } = await import('./mariadb/mariadb-store.js')
      return createMariadbStore({
        uri: parsed.uri,
        migrate: parsed.migrate,
        ...(parsed.prefix !== undefined ? { prefix: parsed.prefix } : {}),
        ...(parsed.poolSize ? { poolSize: parsed.poolSize } : {}),
        ...(options.logger ? { logger: options.logger } : {}),
        ...(options.ifMissing ? { ifMissing: options.ifMissing } : {}),
      })
    }
    case 'redis': {
      const { createRedisStore } = await import('./redis/redis-store.js')
      return createRedisStore({
        url: parsed.url,
        durability: parsed.durability,
        ...(parsed.prefix !== undefined ? { prefix: parsed.prefix } : {}),
        ...(parsed.waitReplicas !== undefined ? { waitReplicas: parsed.waitReplicas } : {}),
        ...(parsed.waitTimeoutMs !== undefined ? { waitTimeoutMs: parsed.waitTimeoutMs } : {}),
        ...(options.logger ? { logger: options.logger } : {}),
      })
    }
  }
}
