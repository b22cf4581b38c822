import { Redis } from 'ioredis'
import type { Logger } from '../../logger.js'
import { checkDurability, type DurabilityMode, type DurabilityReport } from './durability.js'
import { redisFailure } from './failure.js'

/** The password in a Redis URL (to mask it wherever the driver might quote it), or ''. */
export function passwordOf(url: string): string {
  try {
    return decodeURIComponent(new URL(url).password)
  } catch {
    return ''
  }
}

/**
 * Connects to the server a URL names and checks that it keeps mail ({@link checkDurability});
 * rejects with a store error (password masked) or a `ConfigError`, leaving nothing open.
 */
export async function connectRedis(
  options: { url: string; durability?: DurabilityMode },
  where: string,
  password: string,
  log: Logger,
): Promise<{ client: Redis; durability: DurabilityReport }> {
  const client = new Redis(options.url, {
    lazyConnect: true,
    connectTimeout: 5000,
    // A command waits through a short outage (a couple of reconnects), then fails with a
    // store error instead of hanging: the worker retries, a send() reports it.
    maxRetriesPerRequest: 2,
    retryStrategy: (times) => Math.min(100 * times, 2000),
  })
  let lastErrorLog = 0
  client.on('error', (error: Error) => {
    // A down server makes ioredis emit an error per reconnect: log one every 10 s.
    if (Date.now() - lastErrorLog < 10_000) return
    lastErrorLog = Date.now()
    log.warn({ store: where, err: redisFailure(error, where, password).message }, 'Redis error')
  })
  try {
    await client.connect()
    const durability = await checkDurability(client, options.durability ?? 'warn', where, log)
    return { client, durability }
  } catch (error) {
    client.disconnect()
    throw redisFailure(error, where, password)
  }
}
