import { ConfigError } from '../../errors.js'
import type { OpenStoreOptions } from '../open-store.js'
import type { Store } from '../store.js'
import { createMariadbStore } from './mariadb-store.js'

/**
 * Opens the store a `mysql://` or `mariadb://` URL names. Its own parameters (`prefix`,
 * `migrate`, `poolSize`) are taken out; the rest go to mysql2. Loaded only when such a URL is
 * opened, so that nobody else loads mysql2.
 */
export async function openMariadbFromUrl(url: string, options: OpenStoreOptions): Promise<Store> {
  let parsed: URL
  try {
    parsed = new URL(url.replace(/^mariadb:/, 'mysql:'))
  } catch {
    throw new ConfigError('store', '`store` is not a valid mysql:// or mariadb:// URL.')
  }
  if (parsed.pathname.length <= 1) {
    throw new ConfigError('store', '`store` mysql:// needs a database, e.g. mysql://host:3306/app.')
  }
  const prefix = parsed.searchParams.get('prefix') ?? undefined
  const migrate = parsed.searchParams.get('migrate') !== 'false'
  const poolSize = parsed.searchParams.has('poolSize')
    ? Number(parsed.searchParams.get('poolSize'))
    : undefined
  if (poolSize !== undefined && !(Number.isInteger(poolSize) && poolSize >= 1)) {
    throw new ConfigError('store', '`store` parameter poolSize must be a whole number from 1.')
  }
  for (const own of ['prefix', 'migrate', 'poolSize']) parsed.searchParams.delete(own)
  return createMariadbStore({
    uri: parsed.toString(),
    migrate,
    ...(prefix !== undefined ? { prefix } : {}),
    ...(poolSize ? { poolSize } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.ifMissing ? { ifMissing: options.ifMissing } : {}),
  })
}
