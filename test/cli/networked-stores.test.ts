import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createOutbox, startHttpServer } from '../../src/index.js'
import {
  createTestDatabase,
  dropTestDatabases,
  mariadbAvailable,
  mariadbUrl,
} from '../helpers/mariadb.js'
import { REDIS_URL, deleteKeys, redisAvailable } from '../helpers/redis.js'
import { runCli } from '../helpers/run-cli.js'

/**
 * The operator's tools on the MariaDB and Redis stores, unchanged: the CLI's migrate, list,
 * show, stats, hold, release, send and purge, and the HTTP API's stats and /metrics.
 */
const cwd = mkdtempSync(join(tmpdir(), 'outbox-cli-stores-'))
const databases: string[] = []
const prefixes: string[] = []
afterAll(async () => {
  if (databases.length) await dropTestDatabases(databases)
  for (const prefix of prefixes) await deleteKeys(REDIS_URL, prefix)
  rmSync(cwd, { recursive: true, force: true })
})

const backends = [
  {
    name: 'MariaDB',
    available: await mariadbAvailable(),
    url: async () => {
      const database = await createTestDatabase('cli')
      databases.push(database)
      return mariadbUrl(database)
    },
  },
  {
    name: 'Redis',
    available: await redisAvailable(),
    url: async () => {
      const prefix = `outbox-cli-${randomBytes(4).toString('hex')}:`
      prefixes.push(prefix)
      return `${REDIS_URL}?prefix=${prefix}`
    },
  },
]

const cli = (store: string, ...args: string[]) =>
  runCli([...args, '--store', store], { cwd, timeoutMs: 30_000 })
/** The ids `outbox list --json` printed. */
const listedIds = (stdout: string): string[] =>
  (JSON.parse(stdout) as { messages: { id: string }[] }).messages.map((m) => m.id)

describe.each(backends)('the operator on the $name store', ({ available, url }) => {
  it.skipIf(!available)(
    'migrates, lists, shows, holds, releases, sends, reports and purges',
    async () => {
      const store = await url()
      expect((await cli(store, 'migrate')).code).toBe(0)

      const outbox = await createOutbox({ store })
      let id: string
      try {
        id = (
          await outbox.send({
            from: 'shop@example.com',
            to: 'customer@example.org',
            subject: 'Your receipt',
            text: 'Thanks!',
          })
        ).id
      } finally {
        await outbox.close()
      }

      const listed = await cli(store, 'list', '--json')
      expect(listed.code).toBe(0)
      expect(listedIds(listed.stdout)).toEqual([id])
      const shown = await cli(store, 'show', id)
      expect(shown.code).toBe(0)
      expect(shown.stdout).toContain('customer@example.org')
      expect(shown.stdout).toContain('Your receipt')

      expect((await cli(store, 'hold', id)).code).toBe(0)
      expect((await cli(store, 'list', '--status', 'held', '--json')).stdout).toContain(id)
      expect((await cli(store, 'release', id)).code).toBe(0)

      // No upstream configured: `send` captures it, as it would deliver it.
      const sent = await cli(store, 'send', '--json')
      expect(sent.code).toBe(0)
      expect(JSON.parse(sent.stdout)).toMatchObject({ sent: 1 })
      const stats = await cli(store, 'stats')
      expect(stats.code).toBe(0)
      expect(stats.stdout).toMatch(/sent\D+1\b/)

      const web = await createOutbox({ store })
      const server = await startHttpServer(web, { listen: '127.0.0.1:0' })
      try {
        const api = (await (await fetch(`${server.url}/api/stats`)).json()) as {
          counts: Record<string, number>
        }
        expect(api.counts.sent).toBe(1)
        const metrics = await (await fetch(`${server.url}/metrics`)).text()
        expect(metrics).toMatch(/outbox_queue_messages\{status="sent"\} 1/)
      } finally {
        await server.close()
        await web.close()
      }

      const purged = await cli(store, 'purge', '--older-than', '0s', '--status', 'all', '--json')
      expect(purged.code).toBe(0)
      expect(JSON.parse(purged.stdout)).toEqual({ purged: 1 })
      expect(listedIds((await cli(store, 'list', '--json')).stdout)).toEqual([])
    },
    90_000,
  )
})
