import { ConfigError } from '../../errors.js'
import type { OpenStoreOptions } from '../open-store.js'
import type { Store } from '../store.js'
import { createRedisStore } from './redis-store.js'

const OWN = ['prefix', 'durability', 'wait', 'waitTimeout']

function wholeNumber(params: URLSearchParams, name: string, min: number): number | undefined {
  if (!params.has(name)) return undefined
  const value = Number(params.get(name))
  if (!(Number.isInteger(value) && value >= min)) {
    throw new ConfigError(
      'store',
      `\`store\` parameter ${name} must be a whole number from ${min}.`,
    )
  }
  return value
}

/**
 * Opens the store a `redis://` or `rediss://` URL names. Its own parameters (`prefix`,
 * `durability=strict`, `wait`, `waitTimeout`) are taken out; the rest go to ioredis. Loaded
 * only when such a URL is opened, so that nobody else loads ioredis.
 */
export async function openRedisFromUrl(url: string, options: OpenStoreOptions): Promise<Store> {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new ConfigError('store', '`store` is not a valid redis:// or rediss:// URL.')
  }
  const params = parsed.searchParams
  const durability = params.get('durability') ?? 'warn'
  if (durability !== 'warn' && durability !== 'strict') {
    throw new ConfigError('store', '`store` parameter durability must be strict or warn.')
  }
  const waitReplicas = wholeNumber(params, 'wait', 0)
  const waitTimeoutMs = wholeNumber(params, 'waitTimeout', 1)
  const prefix = params.get('prefix') ?? undefined
  for (const own of OWN) params.delete(own)
  return createRedisStore({
    url: parsed.toString(),
    durability,
    ...(prefix !== undefined ? { prefix } : {}),
    ...(waitReplicas !== undefined ? { waitReplicas } : {}),
    ...(waitTimeoutMs !== undefined ? { waitTimeoutMs } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  })
}
