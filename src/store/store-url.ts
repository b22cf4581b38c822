import { resolve } from 'node:path'
import { ConfigError } from '../errors.js'

/**
 * What a store URL names, read once for every reader (`openStore`, `outbox doctor`): the
 * backend, Outbox's own parameters, and the rest of the URL for the driver. Loads no driver.
 */
export type StoreUrl =
  | {
      kind: 'sqlite'
      /** An absolute path, or `:memory:`. */
      path: string
      /** Whether a file store runs in a thread of its own (`?thread=false`: not). */
      thread: boolean
    }
  | {
      kind: 'postgres'
      /** The URL without Outbox's own parameters, for pg. */
      connectionString: string
      schema: string | undefined
      migrate: boolean
      poolSize: number | undefined
    }
  | {
      kind: 'mariadb'
      /** The URL, as `mysql://`, without Outbox's own parameters, for mysql2. */
      uri: string
      prefix: string | undefined
      migrate: boolean
      poolSize: number | undefined
    }
  | {
      kind: 'redis'
      /** The URL without Outbox's own parameters, for ioredis. */
      url: string
      prefix: string | undefined
      durability: 'warn' | 'strict'
      waitReplicas: number | undefined
      waitTimeoutMs: number | undefined
    }

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

function parseUrl(url: string, expected: string): URL {
  try {
    return new URL(url)
  } catch {
    throw new ConfigError('store', `\`store\` is not a valid ${expected} URL.`)
  }
}

/** Takes Outbox's own parameters out of `url`, so that the driver sees only its own. */
function withoutOwn(url: URL, own: readonly string[]): string {
  for (const name of own) url.searchParams.delete(name)
  return url.toString()
}

/**
 * Reads a store URL (see `openStore` for the forms and parameters); a `ConfigError` for
 * `store` when it is not one.
 */
export function parseStoreUrl(url: string): StoreUrl {
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
    return { kind: 'sqlite', path: path === ':memory:' ? path : resolve(path), thread }
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    const parsed = parseUrl(url, 'postgres://')
    const params = parsed.searchParams
    return {
      kind: 'postgres',
      schema: params.get('schema') || undefined,
      migrate: params.get('migrate') !== 'false',
      poolSize: wholeNumber(params, 'poolSize', 1),
      connectionString: withoutOwn(parsed, ['schema', 'migrate', 'poolSize']),
    }
  }
  if (/^(mysql|mariadb):\/\//.test(url)) {
    const parsed = parseUrl(url.replace(/^mariadb:/, 'mysql:'), 'mysql:// or mariadb://')
    if (parsed.pathname.length <= 1) {
      throw new ConfigError(
        'store',
        '`store` mysql:// needs a database, e.g. mysql://host:3306/app.',
      )
    }
    const params = parsed.searchParams
    return {
      kind: 'mariadb',
      prefix: params.get('prefix') ?? undefined,
      migrate: params.get('migrate') !== 'false',
      poolSize: wholeNumber(params, 'poolSize', 1),
      uri: withoutOwn(parsed, ['prefix', 'migrate', 'poolSize']),
    }
  }
  if (/^rediss?:\/\//.test(url)) {
    const parsed = parseUrl(url, 'redis:// or rediss://')
    const params = parsed.searchParams
    const durability = params.get('durability') ?? 'warn'
    if (durability !== 'warn' && durability !== 'strict') {
      throw new ConfigError('store', '`store` parameter durability must be strict or warn.')
    }
    return {
      kind: 'redis',
      durability,
      prefix: params.get('prefix') ?? undefined,
      waitReplicas: wholeNumber(params, 'wait', 0),
      waitTimeoutMs: wholeNumber(params, 'waitTimeout', 1),
      url: withoutOwn(parsed, ['prefix', 'durability', 'wait', 'waitTimeout']),
    }
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]
  throw new ConfigError(
    'store',
    scheme
      ? `\`store\` has the unsupported scheme ${scheme}:; expected sqlite:PATH, postgres://…, mysql://… or redis://….`
      : `\`store\` ${JSON.stringify(url)} is not a store URL; expected e.g. sqlite:./outbox.db, postgres://host/db, mysql://host/db or redis://host:6379/0.`,
  )
}
