import { ConfigError } from '../errors.js'
import { createSqliteStore } from './sqlite/sqlite-store.js'
import type { Store } from './store.js'

/**
 * Opens the store a URL names:
 * - `sqlite:./outbox.db`, `sqlite:/var/lib/outbox/queue.db`, `sqlite::memory:`
 *   (`sqlite://` followed by a path is accepted too).
 */
export function openStore(url: string): Store {
  if (url.startsWith('sqlite:')) {
    let path = url.slice('sqlite:'.length)
    if (path.startsWith('//')) path = path.slice(2)
    if (!path)
      throw new ConfigError('store', '`store` sqlite: needs a file path, e.g. sqlite:./outbox.db.')
    return createSqliteStore({ path })
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]
  throw new ConfigError(
    'store',
    scheme
      ? `\`store\` has the unsupported scheme ${scheme}:; this version supports sqlite:PATH.`
      : `\`store\` ${JSON.stringify(url)} is not a store URL; expected e.g. sqlite:./outbox.db.`,
  )
}
