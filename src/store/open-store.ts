import { resolve } from 'node:path'
import { ConfigError } from '../errors.js'
import type { Logger } from '../logger.js'
import type { Store } from './store.js'

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
  if (url.startsWith('sqlite:')) {
    let path = url.slice('sqlite:'.length)
    if (path.startsWith('//')) path = path.slice(2)
    let thread = true
    const params = /\?thread=(true|false)$/.exec(path)
    if (params) {
      thread = params[1] === 'true'
      path = path.slice(0, params.index)
    }
    if (!path)
      throw new ConfigError('store', '`store` sqlite: needs a file path, e.g. sqlite:./outbox.db.')
    const sqlite = {
      path: path === ':memory:' ? path : resolve(path),
      ...(options.ifMissing ? { ifMissing: options.ifMissing } : {}),
    }
    // A file database runs in a thread of its own (see threaded-store.ts); an in-memory one
    // lives and dies with this thread. Each backend is loaded only when a store of its kind is
    // opened.
    if (thread && path !== ':memory:') {
      const { openThreadedStore } = await import('./thread/threaded-store.js')
      return openThreadedStore({ sqlite }, options.logger)
    }
    const { createSqliteStore } = await import('./sqlite/sqlite-store.js')
    return createSqliteStore({ ...sqlite, ...(options.logger ? { logger: options.logger } : {}) })
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch {
      throw new ConfigError('store', '`store` is not a valid postgres:// URL.')
    }
    const schema = parsed.searchParams.get('schema') ?? undefined
    const migrate = parsed.searchParams.get('migrate') !== 'false'
    const poolSize = parsed.searchParams.has('poolSize')
      ? Number(parsed.searchParams.get('poolSize'))
      : undefined
    if (poolSize !== undefined && !(Number.isInteger(poolSize) && poolSize >= 1)) {
      throw new ConfigError('store', '`store` parameter poolSize must be a whole number from 1.')
    }
    for (const own of ['schema', 'migrate', 'poolSize']) parsed.searchParams.delete(own)
    const { createPostgresStore } = await import('./postgres/postgres-store.js')
    return createPostgresStore({
      connectionString: parsed.toString(),
      migrate,
      ...(schema ? { schema } : {}),
      ...(poolSize ? { poolSize } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.ifMissing ? { ifMissing: options.ifMissing } : {}),
    })
  }
  if (/^(mysql|mariadb):\/\//.test(url)) {
    const { openMariadbFromUrl } = await import('./mariadb/open-url.js')
    return openMariadbFromUrl(url, options)
  }
  if (/^rediss?:\/\//.test(url)) {
    const { openRedisFromUrl } = await import('./redis/open-url.js')
    return openRedisFromUrl(url, options)
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]
  throw new ConfigError(
    'store',
    scheme
      ? `\`store\` has the unsupported scheme ${scheme}:; expected sqlite:PATH, postgres://…, mysql://… or redis://….`
      : `\`store\` ${JSON.stringify(url)} is not a store URL; expected e.g. sqlite:./outbox.db, postgres://host/db, mysql://host/db or redis://host:6379/0.`,
  )
}
