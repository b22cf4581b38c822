import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
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
const followers: ChildProcess[] = []
beforeEach(async () => {
  cwd = mkdtempSync(join(tmpdir(), 'outbox-events-cli-'))
  store = `sqlite:${join(cwd, 'queue.db')}`
  sink = await createSmtpSink({
    script: {
      rcpt: (a) => (a.startsWith('bounce') ? { code: 550, message: 'No such user' } : 'accept'),
    },
  })
  outbox = await createOutbox({ store })
})
afterEach(async () => {
  for (const f of followers.splice(0)) if (f.exitCode === null) f.kill('SIGKILL')
  await outbox.close()
  await sink.close()
  rmSync(cwd, { recursive: true, force: true })
})

const env = () => ({ OUTBOX_STORE: store, OUTBOX_UPSTREAM: sink.url })
const cli = (...args: string[]) => runCli(args, { cwd, env: env() })
const mail = (to: string, subject = 'Hello') => ({
  from: 'shop@example.com',
  to,
  subject,
  text: 'x',
})

interface EventLine {
  seq: string
  type: string
  at: string
  id: string
  recipient: string | null
  data: Record<string, unknown>
}
const jsonLines = (stdout: string) =>
  stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as EventLine)

describe('outbox events', () => {
  it('lists the events of sent and failed mail, filtered by --type, as JSON lines or for people', async () => {
    const ok = await outbox.send(mail('a@example.com', 'Invoice'))
    const bad = await outbox.send(mail('bounce@example.com'))
    expect((await cli('send')).code).toBe(1)

    const all = await cli('events', '--json')
    expect(all.code).toBe(0)
    const events = jsonLines(all.stdout)
    expect(events.map((e) => [e.type, e.id, e.recipient])).toEqual([
      ['queued', ok.id, null],
      ['queued', bad.id, null],
      ['sent', ok.id, 'a@example.com'],
      ['failed', bad.id, 'bounce@example.com'],
    ])
    // The time as ISO 8601 text; the data as stored.
    expect(new Date(events[2]!.at).toISOString()).toBe(events[2]!.at)
    expect(events[2]!.data).toMatchObject({ code: 250, upstream: 'default' })
    expect(events[3]!.data).toMatchObject({ code: 550, reply: '550 No such user' })

    const failed = await cli('events', '--json', '--type', 'failed,bounced')
    expect(jsonLines(failed.stdout).map((e) => e.recipient)).toEqual(['bounce@example.com'])

    const human = await cli('events', '--type', 'sent,failed')
    expect(human.code).toBe(0)
    const lines = human.stdout.trimEnd().split('\n')
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatch(
      new RegExp(`^${events[2]!.at}  sent +${ok.id}  a@example\\.com  250 .*; via default$`),
    )
    expect(lines[1]).toMatch(
      new RegExp(`^${events[3]!.at}  failed +${bad.id}  bounce@example\\.com  550 No such user$`),
    )
    const queued = await cli('events', '--type', 'queued', '--limit', '1')
    expect(queued.stdout).toMatch(
      /queued +\S+ {2}- {2}from shop@example\.com; 1 recipient; "Invoice"\n$/,
    )
    expect(queued.stdout.trimEnd().split('\n')).toHaveLength(1)
  })

  it('--since starts at a time: a duration back from now or a date', async () => {
    await outbox.send(mail('a@example.com', 'Old'))
    await cli('send')
    const [last] = jsonLines((await cli('events', '--json', '--type', 'sent')).stdout)
    // A cut strictly after every event so far, by the store's clock (this machine's).
    const cut = new Date(new Date(last!.at).getTime() + 1)
    await waitUntil(() => Date.now() > cut.getTime() + 1, 5000, 'the clock to pass the cut')
    const fresh = await outbox.send(mail('b@example.com', 'New'))
    await cli('send')

    const since = jsonLines((await cli('events', '--json', '--since', cut.toISOString())).stdout)
    expect(since.map((e) => [e.type, e.id])).toEqual([
      ['queued', fresh.id],
      ['sent', fresh.id],
    ])
    expect(jsonLines((await cli('events', '--json', '--since', '1h')).stdout)).toHaveLength(4)
    const none = await cli('events', '--since', new Date(Date.now() + 3_600_000).toISOString())
    expect(none).toMatchObject({ code: 0, stdout: 'no events\n' })
  })

  it('refuses an unknown type, a bad --since or --limit with exit code 2, naming it', async () => {
    const unknown = await cli('events', '--type', 'sent,bouncd')
    expect(unknown.code).toBe(2)
    expect(unknown.stdout).toBe('')
    expect(unknown.stderr).toContain(
      '--type "bouncd": unknown event type; expected one of queued, sent,',
    )
    expect((await cli('events', '--since', 'last tuesday-ish')).code).toBe(2)
    expect((await cli('events', '--limit', '0')).code).toBe(2)
  })

  it('--follow starts at the end of the log, prints new events as they come and stops cleanly on SIGINT', async () => {
    const old = await outbox.send(mail('a@example.com', 'Before'))
    await cli('send')
    const follower = spawn(
      process.execPath,
      [CLI, 'events', '--follow', '--json', '--type', 'sent'],
      {
        cwd,
        env: cleanEnv(env()),
      },
    )
    followers.push(follower)
    let stdout = ''
    let stderr = ''
    follower.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    follower.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    // The follower says nothing until an event comes: send until one shows (it may still be
    // opening the store when the first is sent, and rightly not print that one).
    const sent: string[] = []
    for (let i = 0; i < 40 && !stdout.includes('"sent"'); i++) {
      sent.push((await outbox.send(mail(`f${i}@example.com`))).id)
      await cli('send')
      await waitUntil(() => stdout.includes('"sent"'), 500, 'a line').catch(() => {})
    }
    const printed = jsonLines(stdout)
    expect(printed.length).toBeGreaterThan(0)
    expect(printed.every((e) => e.type === 'sent' && sent.includes(e.id))).toBe(true)
    expect(printed.some((e) => e.id === old.id)).toBe(false)

    const exited = new Promise<number | null>((resolve) => follower.once('exit', resolve))
    follower.kill('SIGINT')
    expect(await exited).toBe(0)
    expect(stderr).toBe('')
  })
})
