import { redactUrl } from '../../delivery/upstream.js'
import { silentLogger } from '../../logger.js'
import { checkDurability } from '../../store/redis/durability.js'
import type { StoreUrl } from '../../store/store-url.js'
import { fail, ok, reason, warn, withTimeout, type CheckResult } from '../check.js'
import { STORE_TIMEOUT_MS, unreachableLine } from './store-lines.js'

/** The Redis store's lines: reachable, and the append-only file and eviction policy. */
export async function checkRedis(
  url: string,
  store: Extract<StoreUrl, { kind: 'redis' }>,
): Promise<CheckResult[]> {
  const where = redactUrl(url)
  const { Redis } = await import('ioredis')
  const client = new Redis(store.url, {
    lazyConnect: true,
    connectTimeout: STORE_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  })
  client.on('error', () => {})
  try {
    await withTimeout(client.connect(), STORE_TIMEOUT_MS, `connecting to ${where}`)
  } catch (error) {
    client.disconnect()
    return [unreachableLine('Redis', where, error, 'check the server, the URL and its password')]
  }
  const results: CheckResult[] = [
    ok('store', `Redis at ${where}, reachable (Redis keeps no schema version)`),
  ]
  try {
    const report = await checkDurability(client, 'warn', where, silentLogger)
    const found = `appendonly ${report.appendonly ?? '?'}, appendfsync ${report.appendfsync ?? '?'}, maxmemory-policy ${report.maxmemoryPolicy ?? '?'}`
    if (report.appendonly !== null && report.appendonly !== 'yes')
      results.push(
        fail(
          'store durability',
          found,
          'turn on the append-only file: CONFIG SET appendonly yes, and appendonly yes plus appendfsync always in redis.conf',
        ),
      )
    else if (report.risk)
      results.push(
        warn(
          'store durability',
          report.risk,
          'use appendonly yes and appendfsync always (in redis.conf)',
        ),
      )
    else results.push(ok('store durability', found))
  } catch (error) {
    // checkDurability refuses a server that evicts keys.
    results.push(fail('store durability', reason(error), 'set maxmemory-policy noeviction'))
  } finally {
    client.disconnect()
  }
  return results
}
