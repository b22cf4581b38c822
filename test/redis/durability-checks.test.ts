import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openStore } from '../../src/store/open-store.js'
import { runCli } from '../helpers/run-cli.js'
import {
  redisServerInstalled,
  startRedisServer,
  type TestRedisServer,
} from '../helpers/redis-server.js'

// Each case starts a redis-server of its own: the settings under test are the server's.
const servers: TestRedisServer[] = []
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close()
})

async function server(args: string[]): Promise<TestRedisServer> {
  const started = await startRedisServer(args)
  servers.push(started)
  return started
}

const installed = redisServerInstalled()

/** A logger that keeps the warnings' messages. */
function recordingLogger() {
  const warnings: string[] = []
  const logger = {
    debug() {},
    info() {},
    error() {},
    warn(_: object, msg?: string) {
      warnings.push(msg ?? '')
    },
  }
  return { logger, warnings }
}

describe.skipIf(!installed)('the Redis store checks the server keeps mail', () => {
  it('refuses a server whose eviction policy can drop keys', async () => {
    const lru = await server(['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru'])
    const opening = openStore(`${lru.url}?prefix=t:`)
    await expect(opening).rejects.toMatchObject({
      name: 'ConfigError',
      code: 'OUTBOX_INVALID_CONFIG',
      key: 'store',
    })
    await expect(opening).rejects.toThrow(/maxmemory-policy allkeys-lru.*noeviction/)
  })

  it('makes the command exit 2 (a configuration error) on such a server', async () => {
    const lru = await server(['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru'])
    const cwd = mkdtempSync(join(tmpdir(), 'outbox-cli-'))
    try {
      const result = await runCli(['stats', '--store', `${lru.url}?prefix=t:`], {
        cwd,
        timeoutMs: 30_000,
      })
      expect(result.code).toBe(2)
      expect(result.stderr).toMatch(/maxmemory-policy allkeys-lru/)
    } finally {
      rmSync(cwd, { recursive: true, force: true })
    }
  })

  it('warns about a server without the append-only file, and durability=strict refuses it', async () => {
    const volatile = await server(['--appendonly', 'no'])
    const { logger, warnings } = recordingLogger()
    const store = await openStore(`${volatile.url}?prefix=t:`, { logger })
    // Where operators look: `outbox stats`, the API.
    expect((await store.stats()).durabilityWarning).toMatch(/appendonly no/)
    await store.close()
    expect(warnings.join('\n')).toMatch(/appendonly no.*restart loses mail/)
    const strict = openStore(`${volatile.url}?prefix=t:&durability=strict`)
    await expect(strict).rejects.toMatchObject({ name: 'ConfigError' })
    await expect(strict).rejects.toThrow(/durability=strict/)
  })

  it('treats the settings of a server that refuses CONFIG as unknown: a warning, or refused if strict', async () => {
    const managed = await server([
      '--rename-command',
      'CONFIG',
      'hidden-config-3f9a',
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
    ])
    const { logger, warnings } = recordingLogger()
    const store = await openStore(`${managed.url}?prefix=t:`, { logger })
    await store.close()
    expect(warnings.join('\n')).toMatch(/refuses CONFIG GET/)
    await expect(openStore(`${managed.url}?prefix=t:&durability=strict`)).rejects.toThrow(
      /durability=strict.*CONFIG/,
    )
  })

  it('accepts a server syncing its append-only file on every write, strict or not', async () => {
    const durable = await server(['--appendonly', 'yes', '--appendfsync', 'always'])
    const { logger, warnings } = recordingLogger()
    const store = await openStore(`${durable.url}?prefix=t:&durability=strict`, { logger })
    expect(store.kind).toBe('redis')
    expect((await store.stats()).durabilityWarning).toBeUndefined()
    await store.close()
    expect(warnings).toEqual([])
  })

  it('fails with StoreUnavailableError, password masked, when no server answers', async () => {
    const gone = await server([])
    await gone.kill()
    const opening = openStore(`redis://user:s3cret-pw@127.0.0.1:${gone.port}/0`)
    await expect(opening).rejects.toMatchObject({ code: 'OUTBOX_STORE_UNAVAILABLE' })
    const error = (await opening.catch((e: unknown) => e)) as Error
    expect(error.message).not.toContain('s3cret-pw')
  })
})
