import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

import { ConfigError } from '../errors.js'
import { parseStoreUrl } from './store-url.js'

function refusal(url: string): ConfigError {
  try {
    parseStoreUrl(url)
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).key).toBe('store')
    return error as ConfigError
  }
  throw new Error(`expected ${url} to be refused`)
}

describe('parseStoreUrl', () => {
  it('reads SQLite paths, in memory, and the thread switch', () => {
    expect(parseStoreUrl('sqlite:./q.db')).toEqual({
      kind: 'sqlite',
      path: resolve('q.db'),
      thread: true,
    })
    expect(parseStoreUrl('sqlite:///var/lib/outbox/q.db?thread=false')).toEqual({
      kind: 'sqlite',
      path: '/var/lib/outbox/q.db',
      thread: false,
    })
    expect(parseStoreUrl('sqlite::memory:')).toMatchObject({ path: ':memory:' })
    expect(refusal('sqlite:').message).toMatch(/needs a file path/)
  })

  it("takes Outbox's own parameters out of a PostgreSQL URL and leaves the driver's", () => {
    expect(
      parseStoreUrl(
        'postgres://u:p@db:5432/app?schema=mail&migrate=false&poolSize=4&sslmode=require',
      ),
    ).toEqual({
      kind: 'postgres',
      connectionString: 'postgres://u:p@db:5432/app?sslmode=require',
      schema: 'mail',
      migrate: false,
      poolSize: 4,
    })
    expect(parseStoreUrl('postgresql://db/app')).toMatchObject({
      schema: undefined,
      migrate: true,
      poolSize: undefined,
    })
    expect(refusal('postgres://db/app?poolSize=0').message).toMatch(
      /poolSize must be a whole number from 1/,
    )
    expect(refusal('postgres://[bad/app').message).toMatch(/not a valid postgres:\/\/ URL/)
  })

  it('reads mariadb:// as mysql:// and needs a database', () => {
    expect(parseStoreUrl('mariadb://root@db:3306/app?prefix=mail_&charset=utf8mb4')).toEqual({
      kind: 'mariadb',
      uri: 'mysql://root@db:3306/app?charset=utf8mb4',
      prefix: 'mail_',
      migrate: true,
      poolSize: undefined,
    })
    expect(refusal('mysql://db').message).toMatch(/needs a database/)
  })

  it('reads the Redis durability and WAIT parameters', () => {
    expect(
      parseStoreUrl(
        'rediss://:pw@cache:6380/2?prefix=o:&durability=strict&wait=1&waitTimeout=50&tls=x',
      ),
    ).toEqual({
      kind: 'redis',
      url: 'rediss://:pw@cache:6380/2?tls=x',
      prefix: 'o:',
      durability: 'strict',
      waitReplicas: 1,
      waitTimeoutMs: 50,
    })
    expect(refusal('redis://c?durability=maybe').message).toMatch(/strict or warn/)
    expect(refusal('redis://c?wait=-1').message).toMatch(/wait must be a whole number from 0/)
  })

  it('names an unsupported scheme, and what is no URL at all', () => {
    expect(refusal('ftp://x/y').message).toMatch(/unsupported scheme ftp:/)
    expect(refusal('queue.db').message).toMatch(/"queue.db" is not a store URL/)
  })
})
