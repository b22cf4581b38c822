import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { freePort } from './free-port.js'
import { waitUntil } from './temp.js'

/** A redis-server of a test's own, on a free loopback port, its files in a temporary folder. */
export interface TestRedisServer {
  readonly port: number
  readonly url: string
  /** Kills it with SIGKILL (no chance to write anything more) and waits for it to go. */
  kill(): Promise<void>
  /** Starts it again on the same port and folder (it reloads its append-only file). */
  start(): Promise<void>
  /** Stops it and removes its folder. */
  close(): Promise<void>
}

/**
 * Whether `redis-server` is installed. In CI (CI=true) its absence fails the run loudly;
 * elsewhere the tests that start one are skipped with the reason printed.
 */
export function redisServerInstalled(): boolean {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' })
  if (probe.status === 0) return true
  const reason = `redis-server cannot be run: ${probe.error?.message ?? probe.stderr}`
  if (process.env.CI === 'true') throw new Error(`${reason}. CI needs it: install redis-server.`)
  console.warn(`SKIPPING tests that start a redis-server: ${reason}`)
  return false
}

async function answers(url: string): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  })
  client.on('error', () => {})
  try {
    await client.connect()
    return (await client.ping()) === 'PONG'
  } catch {
    return false
  } finally {
    client.disconnect()
  }
}

/**
 * Starts `redis-server --port N --dir <tmp> ARGS…`. By default with the append-only file synced
 * on every write, the setting the store needs to keep every acknowledged message.
 */
export async function startRedisServer(
  args: string[] = ['--appendonly', 'yes', '--appendfsync', 'always'],
): Promise<TestRedisServer> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'outbox-redis-'))
  const url = `redis://127.0.0.1:${port}/0`
  let child: ChildProcess | null = null

  async function start(): Promise<void> {
    const started = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...args],
      { stdio: 'ignore' },
    )
    child = started
    await waitUntil(
      async () => {
        if (started.exitCode !== null)
          throw new Error(`redis-server exited with ${started.exitCode}`)
        return answers(url)
      },
      30_000,
      `redis-server on port ${port}`,
    )
  }

  async function kill(): Promise<void> {
    const running = child
    child = null
    if (!running || running.exitCode !== null) return
    const exited = new Promise((resolve) => running.once('exit', resolve))
    running.kill('SIGKILL')
    await exited
  }

  await start()
  return {
    port,
    url,
    kill,
    start,
    async close() {
      await kill()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
