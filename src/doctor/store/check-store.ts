import { redactUrl } from '../../delivery/upstream.js'
import { parseStoreUrl } from '../../store/store-url.js'
import { fail, reason, type CheckResult } from '../check.js'
import { checkMariadb } from './mariadb.js'
import { checkPostgres } from './postgres.js'
import { checkRedis } from './redis.js'
import { checkSqlite } from './sqlite.js'

/**
 * The store lines: reachable, schema current, durability settings. Never creates a store. The
 * URL is read as `openStore` reads it, so the doctor checks what Outbox would open.
 */
export async function checkStore(url: string): Promise<CheckResult[]> {
  try {
    const store = parseStoreUrl(url)
    switch (store.kind) {
      case 'sqlite':
        return checkSqlite(store)
      case 'postgres':
        return await checkPostgres(url, store)
      case 'mariadb':
        return await checkMariadb(url, store)
      case 'redis':
        return await checkRedis(url, store)
    }
  } catch (error) {
    return [
      fail(
        'store',
        `${redactUrl(url)}: ${reason(error)}`,
        'check the store URL (--store, OUTBOX_STORE): sqlite:PATH, postgres://…, mysql://… or redis://…',
      ),
    ]
  }
}
