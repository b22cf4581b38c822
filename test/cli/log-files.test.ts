import { spawn, type ChildProcess } from 'node:child_process'
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createOutbox, type Outbox } from '../../src/index.js'
import { CLI, cleanEnv, runCli } from '../helpers/run-cli.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'
import { waitUntil } from '../helpers/temp.js'

let cwd: string
let store: string
let sink: SmtpSink
let outbox: Outbox
const children = new Set<ChildProcess>()

beforeEach(async () => {
  cwd = mkdtempSync(join(tmpdir(), 'outbox-logs-'))
  store = `sqlite:${join(cwd, 'queue.db')}`
  // `later…` is refused for now once, then accepted; `bounce…` is refused for good.
  const refusedOnce = new Set<string>()
  sink = await createSmtpSink({
    script: {
      rcpt: (address) => {
        if (address.startsWith('bounce')) return { code: 550, message: 'No such user' }
        if (address.startsWith('later') && !refusedOnce.has(address)) {
          refusedOnce.add(address)
          return { code: 451 }
        }
        return 'accept'
      },
    },
  })
  outbox = await createOutbox({ store })
})
afterEach(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
  children.clear()
  await outbox.close()
  await sink.close()
  rmSync(cwd, { recursive: true, force: true })
})

const mail = (to: string | string[], subject = 'Secret subject') => ({
  from: 'shop@example.com',
  to,
  subject,
  text: 'the body, never logged',
})

/**
 * Starts `outbox ARGS…` for as long as the test needs it. Not `startCli`: with a log file its
 * output is empty, so there is no line to wait for (the mail is queued before it starts).
 */
function daemon(args: string[], env: Record<string, string>): { stop(): Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd,
    env: cleanEnv({
      OUTBOX_STORE: store,
      OUTBOX_UPSTREAM: sink.url,
      OUTBOX_SMTP_LISTEN: '127.0.0.1:0',
      OUTBOX_HTTP_LISTEN: 'none',
      ...env,
    }),
    stdio: 'ignore',
  })
  children.add(child)
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  return {
    async stop() {
      child.kill('SIGTERM')
      const deadline = new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 20_000))
      const code = await Promise.race([exited, deadline])
      if (code === 'hung') throw new Error(`outbox ${args.join(' ')} did not stop on SIGTERM`)
      return code
    },
  }
}

async function queue(count: number): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < count; i += 500) {
    const batch = Array.from({ length: Math.min(500, count - i) }, (_, j) =>
      mail(`r${i + j}@example.com`),
    )
    ids.push(...(await outbox.sendMany(batch)).map((r) => r.id))
  }
  return ids
}

async function allSettled(count: number, timeoutMs: number): Promise<void> {
  await waitUntil(
    async () => {
      const counts = await outbox.admin.countByStatus()
      return (counts.sent ?? 0) + (counts.failed ?? 0) >= count
    },
    timeoutMs,
    `${count} messages sent or failed`,
  )
}

/** The log files oldest first (`outbox.log.N` … `outbox.log.1`, `outbox.log`), as lines. */
function readLogs(dir: string): { names: string[]; files: string[][] } {
  const names = readdirSync(dir).sort((a, b) => rank(b) - rank(a))
  const files = names.map((name) =>
    readFileSync(join(dir, name), 'utf8').split('\n').filter(Boolean),
  )
  return { names, files }
}
const rank = (name: string) => Number(/\.log\.(\d+)$/.exec(name)?.[1] ?? 0)

type LogLine = { time: number; msg: string; id?: string; status?: string }

describe('log.file: rotated by size', () => {
  it('rotates at 64 KB while 5,000 messages are delivered, losing and repeating no line', async () => {
    const ids = await queue(5000)
    const dir = join(cwd, 'logs')
    const run = daemon(['start'], {
      OUTBOX_LOG_FILE: join(dir, 'outbox.log'),
      OUTBOX_LOG_MAX_SIZE: '64KB',
      OUTBOX_LOG_MAX_FILES: '100',
      OUTBOX_CONCURRENCY: '20',
    })
    await allSettled(5000, 50_000)
    expect(await run.stop()).toBe(0)

    const { names, files } = readLogs(dir)
    expect(names.length).toBeGreaterThanOrEqual(10)
    expect(names.length).toBeLessThanOrEqual(100)
    expect(names).toEqual([
      ...Array.from({ length: names.length - 1 }, (_, i) => `outbox.log.${names.length - 1 - i}`),
      'outbox.log',
    ])
    for (const name of names.slice(0, -1)) {
      // Rotated once past the limit, after a whole line: never far past it.
      const size = statSync(join(dir, name)).size
      expect(size).toBeGreaterThanOrEqual(64 * 1024)
      expect(size).toBeLessThan(64 * 1024 + 4096)
    }
    expect(statSync(dir).mode & 0o027).toBe(0)
    for (const name of names) expect(statSync(join(dir, name)).mode & 0o137).toBe(0)

    // Every line whole, in order across the files, one `sent` line per message.
    const lines = files.flat().map((l) => JSON.parse(l) as LogLine)
    const times = lines.map((l) => l.time)
    expect(times).toEqual([...times].sort((a, b) => a - b))
    const sent = new Map<string, number>()
    for (const line of lines) {
      if (line.status === 'sent' && line.id) sent.set(line.id, (sent.get(line.id) ?? 0) + 1)
    }
    expect(sent.size).toBe(5000)
    expect([...sent.values()].every((n) => n === 1)).toBe(true)
    expect(ids.every((id) => sent.has(id))).toBe(true)
    // Written before the process exited: the last line of all.
    expect(lines.at(-1)!.msg).toBe('worker stopped')
    expect(lines[0]!.msg).toBe('worker started')
    expect(files.flat().join('\n')).not.toContain('never logged')
  })

  it('keeps at most log.maxFiles files, the current one included', async () => {
    await queue(1000)
    const dir = join(cwd, 'logs')
    const run = daemon(['worker'], {
      OUTBOX_LOG_FILE: join(dir, 'outbox.log'),
      OUTBOX_LOG_MAX_SIZE: '64KB',
      OUTBOX_LOG_MAX_FILES: '3',
    })
    await allSettled(1000, 30_000)
    expect(await run.stop()).toBe(0)
    const { names, files } = readLogs(dir)
    expect(names).toEqual(['outbox.log.2', 'outbox.log.1', 'outbox.log'])
    // The oldest lines went with the deleted files; the newest are all there.
    const lines = files.flat().map((l) => JSON.parse(l) as LogLine)
    const sent = lines.filter((l) => l.status === 'sent').length
    expect(sent).toBeGreaterThan(100)
    expect(sent).toBeLessThan(1000)
    expect(lines.at(-1)!.msg).toBe('worker stopped')
  })
})

describe('log.failedFile: one line per message that failed for good', () => {
  it('writes each failed message once, with its failed recipients, reason and reply', async () => {
    const failing = [
      ...(await outbox.sendMany([0, 1, 2].map((i) => mail(`bounce-${i}@example.com`)))).map(
        (r, i) => ({ id: r.id, recipients: [`bounce-${i}@example.com`] }),
      ),
      // Partly delivered: only the refused recipient is named.
      {
        id: (await outbox.send(mail(['bounce-p@example.com', 'ok-p@example.com']))).id,
        recipients: ['bounce-p@example.com'],
      },
      // Refused in the first attempt; the message fails when the second delivers the rest.
      {
        id: (await outbox.send(mail(['bounce-l@example.com', 'later-l@example.com']))).id,
        recipients: ['bounce-l@example.com'],
      },
    ]
    await outbox.sendMany([mail('ok-1@example.com'), mail('later-ok@example.com')])
    const path = join(cwd, 'log', 'failed.log')
    const run = daemon(['worker'], {
      OUTBOX_LOG_FAILED_FILE: path,
      OUTBOX_RETRY_INITIAL_DELAY: '50ms',
      OUTBOX_RETRY_MAX_DELAY: '100ms',
    })
    await allSettled(7, 20_000)
    expect(await run.stop()).toBe(0)

    const text = readFileSync(path, 'utf8')
    expect(text).not.toMatch(/Secret subject|never logged/)
    const lines = text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(lines).toHaveLength(failing.length)
    for (const expected of failing) {
      const line = lines.find((l) => l.id === expected.id)
      expect(line).toEqual({
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) as unknown,
        id: expected.id,
        recipients: expected.recipients,
        reason: 'rejected',
        reply: expect.stringMatching(/^550\b.*No such user/) as unknown,
      })
    }
    expect(statSync(path).mode & 0o137).toBe(0)
  })
})

describe('a log path that cannot be opened', () => {
  it('stops the command at start with one line and exit code 2', async () => {
    writeFileSync(join(cwd, 'file'), '')
    const env = { OUTBOX_HTTP_LISTEN: 'none', OUTBOX_SMTP_LISTEN: '127.0.0.1:0' }
    const underFile = await runCli(['start', '--log-file', 'file/logs/outbox.log'], { cwd, env })
    expect(underFile.code).toBe(2)
    expect(underFile.stderr).toMatch(
      /^outbox: cannot open log\.file file\/logs\/outbox\.log: part of the path is a file, not a folder \(ENOTDIR[^\n]*\)\n$/,
    )
    // Nothing was done: no queue was created.
    expect(existsSync(join(cwd, 'outbox.db'))).toBe(false)

    const folder = await runCli(['worker', '--log-failed-file', cwd], { cwd, env })
    expect(folder.code).toBe(2)
    expect(folder.stderr).toMatch(
      /^outbox: cannot open log\.failedFile \S+: it is a folder \(EISDIR[^\n]*\)\n$/,
    )

    const cron = await runCli(['send', '--store', store, '--log-file', 'file/x.log'], { cwd, env })
    expect(cron.code).toBe(2)
    expect(cron.stderr).toMatch(
      /^outbox: cannot open log\.file file\/x\.log: part of the path is a file, not a folder \(EEXIST[^\n]*\)\n$/,
    )
  })

  it('refuses sizes and counts out of range like any other key', async () => {
    const result = await runCli(['config', '--log-max-size', '1KB', '--log-max-files', '1'], {
      cwd,
    })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(
      '--log-max-size = "1KB" from the command line: expected a size of at least 16KB',
    )
    expect(result.stderr).toContain(
      '--log-max-files = "1" from the command line: expected a whole number from 2 to 1000',
    )
    const shown = await runCli(['config', '--json'], { cwd, env: { OUTBOX_LOG_MAX_SIZE: '64KB' } })
    expect(JSON.parse(shown.stdout)).toMatchObject({
      config: { logFile: null, logMaxSize: 65_536, logMaxFiles: 5, logFailedFile: null },
      sources: { logMaxSize: 'environment (OUTBOX_LOG_MAX_SIZE)', logMaxFiles: 'default' },
    })
  })
})
