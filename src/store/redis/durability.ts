import type { Redis } from 'ioredis'
import { ConfigError } from '../../errors.js'
import type { Logger } from '../../logger.js'

/** How strictly the store holds the server to keeping acknowledged mail across a restart. */
export type DurabilityMode = 'warn' | 'strict'

/** What the server's configuration says about keeping mail; null where CONFIG is refused. */
export interface DurabilityReport {
  maxmemoryPolicy: string | null
  appendonly: string | null
  appendfsync: string | null
  /** Why a restart of the server can lose acknowledged mail, or null when it cannot. */
  risk: string | null
}

async function configValue(client: Redis, name: string): Promise<string | null> {
  try {
    const reply = (await client.config('GET', name)) as string[]
    return reply[1] ?? null
  } catch {
    // CONFIG is often renamed or disabled on managed servers: then it cannot be checked.
    return null
  }
}

/**
 * Reads the server's eviction and persistence settings and refuses (with a `ConfigError`) a
 * server that may evict keys: that drops queued mail silently. A server that can lose the last
 * writes on a restart (no AOF, or AOF without fsync on every write) is refused in `strict` mode
 * and warned about loudly otherwise.
 */
export async function checkDurability(
  client: Redis,
  mode: DurabilityMode,
  where: string,
  log: Logger,
): Promise<DurabilityReport> {
  const [maxmemoryPolicy = null, appendonly = null, appendfsync = null] = await Promise.all(
    ['maxmemory-policy', 'appendonly', 'appendfsync'].map((name) => configValue(client, name)),
  )
  if (maxmemoryPolicy !== null && maxmemoryPolicy !== 'noeviction') {
    throw new ConfigError(
      'store',
      `The Redis server at ${where} has maxmemory-policy ${maxmemoryPolicy}: when memory runs out it deletes keys, and queued mail with them. Set maxmemory-policy noeviction (CONFIG SET maxmemory-policy noeviction, and in redis.conf).`,
    )
  }
  let risk: string | null = null
  if (maxmemoryPolicy === null || appendonly === null || appendfsync === null) {
    risk = `the Redis server at ${where} refuses CONFIG GET, so its eviction policy and persistence are unknown`
  } else if (appendonly !== 'yes') {
    risk = `the Redis server at ${where} runs without the append-only file (appendonly ${appendonly}): a restart loses mail acknowledged since its last snapshot`
  } else if (appendfsync !== 'always') {
    risk = `the Redis server at ${where} syncs its append-only file only with appendfsync ${appendfsync}: a crash can lose about the last second of acknowledged mail`
  }
  if (risk && mode === 'strict') {
    throw new ConfigError(
      'store',
      `Refusing the Redis store (durability=strict): ${risk}. Use appendonly yes and appendfsync always, or leave out ?durability=strict to accept the risk.`,
    )
  }
  if (risk) log.warn({ store: where, maxmemoryPolicy, appendonly, appendfsync }, `WARNING: ${risk}`)
  return { maxmemoryPolicy, appendonly, appendfsync, risk }
}
