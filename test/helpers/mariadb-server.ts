import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mysql from 'mysql2/promise'
import { freePort } from './free-port.js'
import { waitUntil } from './temp.js'

const MARIADBD = '/usr/sbin/mariadbd'

/** A MariaDB server of a test's own: its own data folder and port, killed at will. */
export interface TestMariadbServer {
  readonly port: number
  /** `mysql://root@127.0.0.1:PORT/outbox` (the database exists). */
  readonly url: string
  /** Kills it with SIGKILL (InnoDB recovers from its redo log at the next start). */
  kill(): Promise<void>
  /** Starts it again on the same port and data folder. */
  start(): Promise<void>
  /** Stops it and removes its folder. */
  close(): Promise<void>
}

/**
 * Whether a private MariaDB server can be made here (mariadbd and mariadb-install-db). In CI
 * (CI=true) their absence fails the run loudly; elsewhere the tests are skipped with the reason.
 */
export function mariadbServerInstalled(): boolean {
  const probe = spawnSync(MARIADBD, ['--version'], { encoding: 'utf8' })
  // Only looked up: run without --datadir, mariadb-install-db works on the system's own server.
  const install = spawnSync('sh', ['-c', 'command -v mariadb-install-db'], { encoding: 'utf8' })
  if (probe.status === 0 && install.status === 0) return true
  const reason = `mariadbd or mariadb-install-db cannot be run: ${probe.error?.message ?? install.error?.message ?? probe.stderr}`
  if (process.env.CI === 'true')
    throw new Error(`${reason}. CI needs them: install mariadb-server.`)
  console.warn(`SKIPPING tests that start a MariaDB server: ${reason}`)
  return false
}

async function answers(port: number): Promise<boolean> {
  try {
    const connection = await mysql.createConnection({
      host: '127.0.0.1',
      port,
      user: 'root',
      connectTimeout: 1000,
    })
    await connection.query('SELECT 1')
    await connection.end()
    return true
  } catch {
    return false
  }
}

/**
 * Initialises a data folder and starts `mariadbd` on a free loopback port, with the durability
 * settings the store needs (InnoDB's defaults: each commit flushed). No grant tables: root
 * without a password, reachable only on 127.0.0.1.
 */
export async function startMariadbServer(): Promise<TestMariadbServer> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'outbox-mariadb-'))
  const data = join(dir, 'data')
  execFileSync(
    'mariadb-install-db',
    [
      '--no-defaults',
      `--datadir=${data}`,
      '--user=root',
      '--skip-test-db',
      '--auth-root-authentication-method=normal',
    ],
    { stdio: 'ignore' },
  )
  let child: ChildProcess | null = null

  async function start(): Promise<void> {
    const started = spawn(
      MARIADBD,
      [
        '--no-defaults',
        `--datadir=${data}`,
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        `--socket=${join(dir, 'mariadb.sock')}`,
        `--pid-file=${join(dir, 'mariadb.pid')}`,
        '--user=root',
        '--skip-grant-tables',
        '--skip-name-resolve',
        '--innodb-buffer-pool-size=64M',
        '--innodb-flush-log-at-trx-commit=1',
      ],
      { stdio: 'ignore' },
    )
    child = started
    await waitUntil(
      async () => {
        if (started.exitCode !== null) throw new Error(`mariadbd exited with ${started.exitCode}`)
        return answers(port)
      },
      60_000,
      `mariadbd on port ${port}`,
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

  try {
    await start()
    const connection = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' })
    await connection.query('CREATE DATABASE outbox')
    await connection.end()
  } catch (error) {
    await kill()
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
  return {
    port,
    url: `mysql://root@127.0.0.1:${port}/outbox`,
    kill,
    start,
    async close() {
      await kill()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
