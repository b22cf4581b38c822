import Database from 'better-sqlite3'
import type { ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createOutbox } from '../../src/index.js'
import { killStartedCli, runCli, startCli } from '../helpers/run-cli.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'

/** Enough mail that the worker is still delivering while the backup runs. */
const MESSAGES = 3000

let cwd: string
let sink: SmtpSink | null = null
beforeEach(() => {
  cwd = mkdtempSync(join(tmpdir(), 'outbox-backup-'))
})
afterEach(async () => {
  killStartedCli()
  await sink?.close()
  sink = null
  rmSync(cwd, { recursive: true, force: true })
})

async function queue(store: string, count: number): Promise<void> {
  const outbox = await createOutbox({ store })
  try {
    for (let from = 0; from < count; from += 500) {
      await outbox.sendMany(
        Array.from({ length: Math.min(500, count - from) }, (_, i) => ({
          from: 'shop@example.com',
          to: `user${from + i}@example.com`,
          subject: `Order ${from + i}`,
          text: 'Thank you for your order.\n'.repeat(200),
        })),
      )
    }
  } finally {
    await outbox.close()
  }
}

function inspect(path: string): { integrity: string; messages: number; journal: string } {
  const db = new Database(path, { readonly: true, fileMustExist: true })
  try {
    return {
      integrity: db.pragma('integrity_check', { simple: true }) as string,
      messages: (db.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n,
      journal: db.pragma('journal_mode', { simple: true }) as string,
    }
  } finally {
    db.close()
  }
}

async function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 40_000)
  try {
    return await exited
  } finally {
    clearTimeout(timer)
  }
}

describe('outbox backup', () => {
  it('copies the store while a worker delivers; the copy passes integrity_check and holds every message', async () => {
    const storePath = join(cwd, 'outbox.db')
    const store = `sqlite:${storePath}`
    await queue(store, MESSAGES)
    // A little time per message so the delivery lasts well beyond the backup.
    sink = await createSmtpSink({ script: { data: () => ({ delayMs: 2 }) } })
    const env = { OUTBOX_STORE: store, OUTBOX_UPSTREAM: sink.url, OUTBOX_CONCURRENCY: '4' }
    const worker = await startCli(['worker'], { cwd, env, readyText: 'outbox worker:' })
    await sink.waitFor(50, 30_000)

    const copy = join(cwd, 'backups', 'outbox-copy.db')
    await runCli(['backup', copy], { cwd, env }).then((r) => expect(r.code).toBe(2)) // no folder
    mkdirSync(join(cwd, 'backups'))
    const deliveredBefore = sink.messages.length
    const result = await runCli(['backup', copy, '--json'], { cwd, env, timeoutMs: 60_000 })
    const deliveredAfter = sink.messages.length
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    // The worker delivered during the backup, and was not done.
    expect(deliveredAfter).toBeGreaterThan(deliveredBefore)
    expect(deliveredAfter).toBeLessThan(MESSAGES)
    expect(worker.child.exitCode).toBeNull()

    const report = JSON.parse(result.stdout) as Record<string, unknown>
    expect(report).toMatchObject({
      source: storePath,
      file: copy,
      integrity: 'ok',
      messages: MESSAGES,
      pageSize: 4096,
    })
    console.log(`backup while delivering: ${result.stdout}`)
    expect(report.pages).toBeGreaterThan(0)
    expect(report.bytes).toBe((report.pages as number) * 4096)

    // Nothing but the copy in its folder: no temp file, no -wal.
    expect(readdirSync(join(cwd, 'backups'))).toEqual(['outbox-copy.db'])
    const copied = inspect(copy)
    expect(copied).toEqual({ integrity: 'ok', messages: MESSAGES, journal: 'delete' })

    // The store opens the copy as a queue: every message is in it, whatever its status.
    const stats = await runCli(['stats', '--json', '--store', `sqlite:${copy}`], { cwd })
    expect(stats.code).toBe(0)
    const counts = (JSON.parse(stats.stdout) as { counts: Record<string, number> }).counts
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(MESSAGES)
    const list = await runCli(['list', '--json', '--limit', '5', '--store', `sqlite:${copy}`], {
      cwd,
    })
    expect(list.code).toBe(0)

    // The worker goes on to deliver everything, undisturbed.
    await sink.waitFor(MESSAGES, 120_000)
    expect(await stop(worker.child)).toBe(0)
    expect(inspect(storePath).messages).toBe(MESSAGES)
  }, 180_000)

  it('refuses an existing FILE (untouched) unless --force, which replaces it', async () => {
    const store = `sqlite:${join(cwd, 'outbox.db')}`
    await queue(store, 10)
    const file = join(cwd, 'backup.db')
    writeFileSync(file, 'not a backup, keep me\n')

    const refused = await runCli(['backup', file, '--store', store], { cwd })
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain(`${file} exists; pass --force`)
    expect(readFileSync(file, 'utf8')).toBe('not a backup, keep me\n')

    const forced = await runCli(['backup', file, '--force', '--store', store], { cwd })
    expect(forced.stderr).toBe('')
    expect(forced.code).toBe(0)
    expect(forced.stdout).toContain(`backed up ${join(cwd, 'outbox.db')} to ${file}`)
    expect(forced.stdout).toMatch(/integrity_check ok, 10 messages/)
    expect(inspect(file)).toMatchObject({ integrity: 'ok', messages: 10 })
    // No temp file left, and the copy is one self-contained file.
    expect(readdirSync(cwd).filter((f) => !f.startsWith('outbox.db'))).toEqual(['backup.db'])

    // FILE is never the store itself.
    const self = await runCli(['backup', join(cwd, 'outbox.db'), '--force', '--store', store], {
      cwd,
    })
    expect(self.code).toBe(2)
    expect(self.stderr).toContain('is the store itself')
    expect(inspect(join(cwd, 'outbox.db')).messages).toBe(10)
  })

  it.each([
    ['postgres://outbox@127.0.0.1:5432/mail', 'pg_dump'],
    ['postgresql://outbox@127.0.0.1/mail?schema=q', 'pg_dump'],
    ['mariadb://outbox@127.0.0.1:3306/mail', 'mariadb-dump'],
    ['mysql://outbox@127.0.0.1/mail', 'mariadb-dump'],
    ['redis://127.0.0.1:6379/0', 'BGSAVE'],
  ])('a %s store: exit 2, one line naming %s', async (store, tool) => {
    const file = join(cwd, 'backup.db')
    const result = await runCli(['backup', file, '--store', store], { cwd })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(tool)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(readdirSync(cwd)).toEqual([])
  })

  it('no store file, or a file that is no queue: exit 2, nothing written', async () => {
    const file = join(cwd, 'backup.db')
    const missing = await runCli(['backup', file, '--store', `sqlite:${join(cwd, 'nope.db')}`], {
      cwd,
    })
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain(`There is no Outbox queue at ${join(cwd, 'nope.db')}`)
    expect(readdirSync(cwd)).toEqual([])

    // The default store, sqlite:./outbox.db in the working directory, is not created either.
    const byDefault = await runCli(['backup', file], { cwd })
    expect(byDefault.code).toBe(2)
    expect(readdirSync(cwd)).toEqual([])

    const other = join(cwd, 'other.db')
    const db = new Database(other)
    db.exec('CREATE TABLE t (x)')
    db.close()
    const foreign = await runCli(['backup', file, '--store', `sqlite:${other}`], { cwd })
    expect(foreign.code).toBe(2)
    expect(foreign.stderr).toContain('holds no Outbox queue')

    writeFileSync(join(cwd, 'text.db'), 'hello, not a database at all'.repeat(100))
    const text = await runCli(['backup', file, '--store', `sqlite:${join(cwd, 'text.db')}`], {
      cwd,
    })
    expect(text.code).toBe(2)
    expect(readdirSync(cwd).sort()).not.toContain('backup.db')

    const memory = await runCli(['backup', file, '--store', 'sqlite::memory:'], { cwd })
    expect(memory.code).toBe(2)
  })

  it('is in the help', async () => {
    const help = await runCli(['backup', '--help'], { cwd })
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('Usage: outbox backup [options] <file>')
    const usage = await runCli(['backup'], { cwd })
    expect(usage.code).toBe(2)
  })
})
