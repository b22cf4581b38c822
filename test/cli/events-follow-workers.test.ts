import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterEach, expect, it } from 'vitest'
import { createOutbox, type Outbox } from '../../src/index.js'
import { CLI, cleanEnv, killStartedCli, startCli } from '../helpers/run-cli.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'
import { waitUntil } from '../helpers/temp.js'

/**
 * The test: two worker processes deliver from one SQLite store to a real SMTP server,
 * and `outbox events --follow --json`, a third process, prints every `sent` event of both,
 * each within a second of the delivery.
 */

const MESSAGES = 200
const LATENCY_LIMIT_MS = 1000

let cwd: string | null = null
let sink: SmtpSink | null = null
let outbox: Outbox | null = null
let follower: ChildProcess | null = null
afterEach(async () => {
  if (follower && follower.exitCode === null) follower.kill('SIGKILL')
  killStartedCli()
  await outbox?.close()
  await sink?.close()
  if (cwd) rmSync(cwd, { recursive: true, force: true })
})

const stopped = (child: ChildProcess, signal: NodeJS.Signals) => {
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  child.kill(signal)
  return exited
}

it('a follower prints every sent event of two worker processes, each within 1 s of the delivery', async () => {
  cwd = mkdtempSync(join(tmpdir(), 'outbox-events-follow-'))
  const store = `sqlite:${join(cwd, 'queue.db')}`
  // A little time per message, so both workers get their share.
  sink = await createSmtpSink({ script: { data: () => ({ delayMs: 5 }) } })
  outbox = await createOutbox({ store })
  const env = { OUTBOX_STORE: store, OUTBOX_UPSTREAM: sink.url, OUTBOX_CONCURRENCY: '4' }

  const workers = await Promise.all(
    [1, 2].map(() => startCli(['worker'], { cwd: cwd!, env, readyText: 'outbox worker:' })),
  )
  // From a time before the first delivery: the follower may still be opening the store when
  // the first messages go out.
  const from = new Date()
  follower = spawn(
    process.execPath,
    [CLI, 'events', '--follow', '--json', '--type', 'sent', '--since', from.toISOString()],
    { cwd, env: cleanEnv(env) },
  )
  let followerErrors = ''
  follower.stderr!.on('data', (d: Buffer) => (followerErrors += d.toString()))
  const seen: { type: string; id: string; latencyMs: number }[] = []
  const lines = createInterface({ input: follower.stdout! })
  lines.on('line', (line) => {
    const readAt = Date.now()
    const event = JSON.parse(line) as { type: string; at: string; id: string }
    seen.push({
      type: event.type,
      id: event.id,
      latencyMs: readAt - new Date(event.at).getTime(),
    })
  })

  const sent = await outbox.sendMany(
    Array.from({ length: MESSAGES }, (_, i) => ({
      from: 'shop@example.com',
      to: `user${i}@example.com`,
      subject: `Order ${i}`,
      text: 'x',
    })),
  )
  await sink.waitFor(MESSAGES, 60_000)
  await waitUntil(() => seen.length >= MESSAGES, 30_000, `${MESSAGES} sent lines`)

  // Every delivery once, none missing, none twice.
  expect(new Set(seen.map((s) => s.id))).toEqual(new Set(sent.map((s) => s.id)))
  expect(seen).toHaveLength(MESSAGES)
  expect(seen.every((s) => s.type === 'sent')).toBe(true)
  // Both workers delivered some of them (each logs one line per delivery).
  const delivered = workers.map(
    (w) =>
      w
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { id?: string; status?: string })
        .filter((l) => l.id && l.status === 'sent').length,
  )
  expect(delivered.every((n) => n > 0)).toBe(true)
  expect(delivered[0]! + delivered[1]!).toBe(MESSAGES)

  const latencies = seen.map((s) => s.latencyMs).sort((a, b) => a - b)
  const max = latencies.at(-1)!
  const median = latencies[Math.floor(latencies.length / 2)]!
  console.log(
    `events --follow: ${MESSAGES} sent events (workers delivered ${delivered.join(' + ')}); ` +
      `latency median ${median} ms, max ${max} ms`,
  )
  expect(latencies.filter((ms) => ms >= LATENCY_LIMIT_MS)).toEqual([])

  expect(await stopped(follower, 'SIGTERM')).toBe(0)
  expect(followerErrors).toBe('')
  for (const w of workers) expect(await stopped(w.child, 'SIGTERM')).toBe(0)
}, 120_000)
