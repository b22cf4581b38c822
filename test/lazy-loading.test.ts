import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import {
  createTestDatabase,
  dropTestDatabases,
  mariadbAvailable,
  mariadbUrl,
} from './helpers/mariadb.js'
import { redisServerInstalled, startRedisServer } from './helpers/redis-server.js'

const run = promisify(execFile)
const fixture = (name: string) => fileURLToPath(new URL(`fixtures/${name}`, import.meta.url))
const dist = (path: string) => new URL(`../dist/${path}`, import.meta.url).href
const dir = mkdtempSync(join(tmpdir(), 'outbox-imports-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const mariadb = await mariadbAvailable()
const redisServer = redisServerInstalled()

/** The packages a script loads, from a process that records every module it resolves. */
async function packagesLoadedBy(name: string, script: string): Promise<Set<string>> {
  const log = join(dir, `${name}.log`)
  await run(
    process.execPath,
    ['--import', fixture('record-imports.mjs'), '--input-type=module', '-e', script],
    { env: { ...process.env, RECORD_IMPORTS: log }, timeout: 30_000 },
  )
  const packages = new Set<string>()
  for (const url of readFileSync(log, 'utf8').split('\n')) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
    if (match) packages.add(match[1]!)
  }
  return packages
}

const HEAVY = [
  'pg',
  'mysql2',
  'better-sqlite3',
  'fastify',
  '@fastify/static',
  'prom-client',
  'postal-mime',
  'smtp-server',
  'ioredis',
  // The template engine: loaded on a template's first use.
  'liquidjs',
  'html-to-text',
  'juice',
]

describe('importing outbox', () => {
  it('loads no driver, server or parser', async () => {
    const loaded = await packagesLoadedBy(
      'import',
      `await import(${JSON.stringify(dist('index.js'))})`,
    )
    expect(loaded.has('nodemailer')).toBe(true) // composing is the core: the check sees packages
    for (const name of HEAVY) expect(loaded, name).not.toContain(name)
  })

  it('loads only the backend a store needs, and the HTTP server only when asked', async () => {
    const sqlite = await packagesLoadedBy(
      'sqlite',
      `const { createOutbox } = await import(${JSON.stringify(dist('index.js'))})
       const outbox = await createOutbox({ store: 'sqlite::memory:' })
       await outbox.sendRaw({ from: 'a@example.com', to: ['b@example.com'], raw: 'Subject: plain\\r\\n\\r\\nx' })
       await outbox.close()`,
    )
    expect(sqlite).toContain('better-sqlite3')
    for (const name of ['pg', 'mysql2', 'ioredis', 'fastify', 'prom-client', 'postal-mime'])
      expect(sqlite, name).not.toContain(name)

    const http = await packagesLoadedBy(
      'http',
      `await import(${JSON.stringify(dist('http/index.js'))})`,
    )
    expect(http).toContain('fastify')
  })

  it.skipIf(!mariadb)('loads mysql2 for a mysql:// store, and no other driver', async () => {
    const database = await createTestDatabase('lazy')
    try {
      const loaded = await packagesLoadedBy(
        'mysql',
        `const { createOutbox } = await import(${JSON.stringify(dist('index.js'))})
         const outbox = await createOutbox({ store: ${JSON.stringify(mariadbUrl(database))} })
         await outbox.sendRaw({ from: 'a@example.com', to: ['b@example.com'], raw: 'Subject: plain\\r\\n\\r\\nx' })
         await outbox.close()`,
      )
      expect(loaded).toContain('mysql2')
      for (const name of ['pg', 'better-sqlite3', 'fastify'])
        expect(loaded, name).not.toContain(name)
    } finally {
      await dropTestDatabases([database])
    }
  })

  it.skipIf(!redisServer)('loads ioredis for a redis:// store, and no other driver', async () => {
    const redis = await startRedisServer()
    try {
      const loaded = await packagesLoadedBy(
        'redis',
        `const { createOutbox } = await import(${JSON.stringify(dist('index.js'))})
         const outbox = await createOutbox({ store: ${JSON.stringify(`${redis.url}?prefix=lazy:`)} })
         await outbox.sendRaw({ from: 'a@example.com', to: ['b@example.com'], raw: 'Subject: plain\\r\\n\\r\\nx' })
         await outbox.close()`,
      )
      expect(loaded).toContain('ioredis')
      for (const name of ['pg', 'mysql2', 'better-sqlite3', 'fastify'])
        expect(loaded, name).not.toContain(name)
    } finally {
      await redis.close()
    }
  })
})
