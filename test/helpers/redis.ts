import { Redis } from 'ioredis'

/** The Redis the store tests use: this machine's, unless OUTBOX_TEST_REDIS_URL says otherwise. */
export const REDIS_URL = process.env.OUTBOX_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0'

let reachable: Promise<boolean> | null = null

/**
 * Whether Redis answers. In CI (CI=true) an unreachable server fails the run loudly;
 * elsewhere the Redis tests are skipped with the reason printed.
 */
export function redisAvailable(): Promise<boolean> {
  reachable ??= (async () => {
    const client = new Redis(REDIS_URL, {
      lazyConnect: true,
      connectTimeout: 3000,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    })
    client.on('error', () => {})
    try {
      await client.connect()
      await client.ping()
      return true
    } catch (error) {
      const reason = `Redis is not reachable at ${REDIS_URL}: ${(error as Error).message}`
      if (process.env.CI === 'true') throw new Error(`${reason}. CI needs it: start redis-server.`)
      console.warn(`SKIPPING Redis tests: ${reason}`)
      return false
    } finally {
      client.disconnect()
    }
  })()
  return reachable
}

/** Deletes every key under `prefix` (SCAN, a bounded number of rounds). */
export async function deleteKeys(url: string, prefix: string): Promise<void> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 })
  try {
    let cursor = '0'
    for (let round = 0; round < 100_000; round++) {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      if (keys.length > 0) await client.del(...keys)
      cursor = next
      if (cursor === '0') break
    }
  } finally {
    client.disconnect()
  }
}
