import Database from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createOutbox, type Outbox } from '../../src/index.js'
import { killStartedCli, runCli, startCli } from '../helpers/run-cli.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'
import { sleep, waitUntil } from '../helpers/temp.js'

let cwd: string
let store: string
let sink: SmtpSink
let outbox: Outbox
beforeEach(async () => {
  cwd = mkdtempSync(join(tmpdir(), 'outbox-cli-'))
  store = `sqlite:${join(cwd, 'queue.db')}`
  sink = await createSmtpSink({
    script: {
      rcpt: (address) =>
        address.startsWith('bounce')
          ? { code: 550, message: 'No such user' }
          : address.startsWith('later')
            ? { code: 451 }
            : 'accept',
    },
  })
  outbox = await createOutbox({ store })
})
afterEach(async () => {
  killStartedCli()
  await outbox.close()
  await sink.close()
  rmSync(cwd, { recursive: true, force: true })
})

const cli = (...args: string[]) =>
  runCli(args, { cwd, env: { OUTBOX_STORE: store, OUTBOX_UPSTREAM: sink.url } })
const mail = (to: string, subject = 'Hello') => ({
  from: 'shop@example.com',
  to,
  subject,
  text: 'x',
})
const json = <T>(text: string) => JSON.parse(text) as T

describe('outbox send (drain once, for cron)', () => {
  it('delivers what is due and exits 0', async () => {
    await outbox.sendMany([mail('a@example.com'), mail('b@example.com')])
    const result = await cli('send')
    expect(result).toMatchObject({ code: 0, stdout: 'sent 2, failed 0, deferred 0\n' })
    expect(sink.messages).toHaveLength(2)
  })

  it('exits 1 when a message failed permanently in this run', async () => {
    await outbox.sendMany([mail('a@example.com'), mail('bounce@example.com')])
    const result = await cli('send', '--json')
    expect(result.code).toBe(1)
    expect(json(result.stdout)).toEqual({ sent: 1, failed: 1, deferred: 0 })
    // Nothing new to fail on the next run: exit 0 again.
    expect((await cli('send')).code).toBe(0)
  })
})

describe('outbox list', () => {
  it('filters by status, recipient, sender, tag and age, and pages', async () => {
    await outbox.send(mail('a@example.com', 'First'), { tags: ['receipt'] })
    await outbox.send({ ...mail('b@example.org', 'Second'), from: 'news@example.com' })
    await outbox.send(mail('bounce@example.com', 'Third'))
    await cli('send')
    await sleep(20)
    const cut = new Date()
    await outbox.send(mail('c@example.com', 'Fourth'), { tags: ['receipt'] })

    const subjects = async (...args: string[]) => {
      const result = await cli('list', '--json', ...args)
      expect(result.code).toBe(0)
      return json<{ messages: { subject: string }[] }>(result.stdout).messages.map((m) => m.subject)
    }
    expect(await subjects()).toEqual(['Fourth', 'Third', 'Second', 'First'])
    expect(await subjects('--status', 'sent')).toEqual(['Second', 'First'])
    expect(await subjects('--status', 'failed,queued')).toEqual(['Fourth', 'Third'])
    expect(await subjects('--to', 'A@example.com')).toEqual(['First'])
    expect(await subjects('--to', '@example.org')).toEqual(['Second'])
    expect(await subjects('--from', 'news@example.com')).toEqual(['Second'])
    expect(await subjects('--tag', 'receipt')).toEqual(['Fourth', 'First'])
    expect(await subjects('--since', cut.toISOString())).toEqual(['Fourth'])
    expect(await subjects('--since', '1h')).toHaveLength(4)

    const page1 = await cli('list', '--limit', '3')
    expect(page1.stdout).toMatch(
      /^ID\s+STATUS\s+PRIORITY\s+AGE\s+NEXT\s+TRIES\s+FROM\s+TO\s+SUBJECT$/m,
    )
    expect(page1.stdout).toMatch(/Fourth/)
    const cursor = /more: add --cursor (\S+)/.exec(page1.stdout)![1]!
    expect(await subjects('--limit', '3', '--cursor', cursor)).toEqual(['First'])
  })

  it('refuses bad filters with exit code 2', async () => {
    const bad = await cli('list', '--status', 'lost')
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain(
      '--status "lost": expected one of queued, sending, deferred, sent, failed, held',
    )
    expect((await cli('list', '--since', 'yesterday-ish')).code).toBe(2)
    expect((await cli('list', '--limit', '0')).code).toBe(2)
  })
})

describe('outbox show', () => {
  it('shows envelope, headers, recipients and attempts; --raw prints the stored bytes', async () => {
    const { id } = await outbox.send({
      ...mail('a@example.com', 'Invoice'),
      cc: 'bounce@example.com',
      bcc: 'later@example.com',
    })
    await cli('send')
    const shown = await cli('show', id)
    expect(shown.code).toBe(0)
    expect(shown.stdout).toMatch(/Status\s+deferred/)
    expect(shown.stdout).toMatch(/Subject: Invoice/)
    expect(shown.stdout).toMatch(/bounce@example\.com\s+failed\s+550\s+550 No such user/)
    expect(shown.stdout).toMatch(/later@example\.com\s+pending\s+451/)
    expect(shown.stdout).toMatch(/1\. \S+\s+partial/)
    const raw = await cli('show', id, '--raw')
    expect(raw.stdout).toBe((await outbox.admin.getRaw(id)).toString())
    expect(
      json<{ recipientStatus: unknown[] }>((await cli('show', id, '--json')).stdout)
        .recipientStatus,
    ).toHaveLength(3)
  })

  it('a missing id is a clear error, not a stack trace', async () => {
    const result = await cli('show', '01nosuchmessage')
    expect(result.code).toBe(1)
    expect(result.stderr).toBe(
      'outbox: No message with id "01nosuchmessage" in the queue. List ids with `outbox list`.\n',
    )
  })
})

describe('queue actions', () => {
  it('hold and release', async () => {
    const { id } = await outbox.send(mail('a@example.com'))
    const held = await cli('hold', id)
    expect(held).toMatchObject({ code: 0, stdout: 'held 1 message\n' })
    expect((await cli('send')).stdout).toBe('sent 0, failed 0, deferred 0\n')
    expect((await outbox.admin.getMessage(id)).status).toBe('held')
    expect((await cli('release', id)).stdout).toBe('released 1 message\n')
    await cli('send')
    expect((await outbox.admin.getMessage(id)).status).toBe('sent')
    const again = await cli('hold', id, 'nosuch')
    expect(again.code).toBe(1)
    expect(again.stderr).toContain('no message with id nosuch')
  })

  it('say which named message changed nothing and why, and exit 1', async () => {
    const { id } = await outbox.send(mail('a@example.com'))
    const release = await cli('release', id)
    expect(release).toMatchObject({ code: 1, stdout: 'released 0 messages\n' })
    expect(release.stderr).toBe(
      `outbox: ${id} left alone: it is queued; only held messages can be released\n`,
    )
    await cli('send')
    const hold = await cli('hold', id)
    expect(hold.code).toBe(1)
    expect(hold.stderr).toContain(
      `${id} left alone: it is sent; only queued or deferred messages can be held`,
    )
    const retry = await cli('retry', id, '--json')
    expect(retry.code).toBe(1)
    expect(json(retry.stdout)).toEqual({ changed: [], unchanged: [id], notFound: [] })
    // A bulk action names no message: finding none to change is not a failure.
    expect(await cli('retry', '--failed')).toMatchObject({
      code: 0,
      stdout: 'retrying 0 messages\n',
    })
  })

  it('retry ids, --deferred and --failed', async () => {
    const deferred = await outbox.send(mail('later@example.com'))
    const failed = await outbox.send(mail('bounce@example.com'))
    await cli('send')
    expect((await outbox.admin.getMessage(deferred.id)).status).toBe('deferred')
    expect((await outbox.admin.getMessage(failed.id)).status).toBe('failed')

    const retried = await cli('retry', '--deferred', '--json')
    expect(json<{ changed: string[] }>(retried.stdout).changed).toEqual([deferred.id])
    expect((await outbox.admin.getMessage(deferred.id)).dueAt!.getTime()).toBeLessThanOrEqual(
      Date.now(),
    )

    expect((await cli('retry', '--failed')).stdout).toBe('retrying 1 message\n')
    const requeued = await outbox.admin.getMessage(failed.id)
    expect(requeued.status).toBe('queued')
    expect(requeued.recipientStatus[0]!.status).toBe('pending')

    expect((await cli('retry', failed.id, '--failed')).code).toBe(2)
    expect((await cli('retry')).code).toBe(2)
  })

  it('delete ids and --status failed', async () => {
    const keep = await outbox.send(mail('a@example.com'))
    const gone = await outbox.send(mail('b@example.com'))
    await outbox.send(mail('bounce@example.com'))
    await outbox.send(mail('bounce2@example.com'))
    expect((await cli('delete', gone.id)).stdout).toBe('deleted 1 message\n')
    await cli('send')
    expect((await cli('delete', '--status', 'failed')).stdout).toBe('deleted 2 messages\n')
    const left = json<{ messages: { id: string }[] }>(
      (await cli('list', '--json')).stdout,
    ).messages.map((m) => m.id)
    expect(left).toEqual([keep.id])
  })

  it('purge removes only finished messages older than asked', async () => {
    const oldSent = await outbox.send(mail('a@example.com'))
    const oldFailed = await outbox.send(mail('bounce@example.com'))
    await cli('send')
    // Age the first two by two days, so the test does not depend on how fast processes start.
    const db = new Database(store.slice('sqlite:'.length))
    db.prepare(
      `UPDATE messages SET created_at = created_at - 172800000, finished_at = finished_at - 172800000
       WHERE id IN (?, ?)`,
    ).run(oldSent.id, oldFailed.id)
    db.close()
    const newSent = await outbox.send(mail('b@example.com'))
    await cli('send')
    const waiting = await outbox.send(mail('c@example.com'))

    expect((await cli('purge', '--older-than', '1d', '--status', 'sent')).stdout).toBe(
      'purged 1 message\n',
    )
    const ids = async () =>
      json<{ messages: { id: string }[] }>((await cli('list', '--json')).stdout).messages.map(
        (m) => m.id,
      )
    expect((await ids()).sort()).toEqual([oldFailed.id, newSent.id, waiting.id].sort())
    expect((await cli('purge', '--older-than', '1d')).stdout).toBe('purged 1 message\n')
    expect((await ids()).sort()).toEqual([newSent.id, waiting.id].sort())
    expect((await cli('purge', '--older-than', '1d')).stdout).toBe('purged 0 messages\n')
    expect((await cli('purge')).code).toBe(2) // --older-than is required
    expect((await cli('purge', '--older-than', 'soon')).code).toBe(2)
  })

  it('stats', async () => {
    await outbox.sendMany([
      mail('a@example.com'),
      mail('bounce@example.com'),
      mail('later@example.com'),
    ])
    await cli('send')
    await outbox.send(mail('d@example.com'))
    const stats = json<{
      counts: Record<string, number>
      sentLastHour: number
      failedLastDay: number
      oldestWaitingAgeMs: number
    }>((await cli('stats', '--json')).stdout)
    expect(stats.counts).toEqual({
      queued: 1,
      sending: 0,
      deferred: 1,
      sent: 1,
      failed: 1,
      held: 0,
    })
    expect(stats).toMatchObject({ sentLastHour: 1, failedLastDay: 1 })
    expect(stats.oldestWaitingAgeMs).toBeGreaterThanOrEqual(0)
    const human = await cli('stats')
    expect(human.stdout).toMatch(/queued\s+1/)
    expect(human.stdout).toMatch(/sent, last hour\s+1/)
  })

  it('migrate creates the schema of a new store', async () => {
    const fresh = `sqlite:${join(cwd, 'new.db')}`
    const result = await runCli(['migrate', '--store', fresh], { cwd })
    expect(result).toMatchObject({ code: 0, stdout: `store ${fresh} is up to date\n` })
  })
})

describe('outbox start and outbox worker', () => {
  it('start says where mail goes, delivers, and stops cleanly on SIGTERM', async () => {
    const { child, output } = await startCli(['start'], {
      cwd,
      env: {
        OUTBOX_STORE: store,
        OUTBOX_UPSTREAM: sink.url,
        OUTBOX_SMTP_LISTEN: '127.0.0.1:0',
        OUTBOX_HTTP_LISTEN: '127.0.0.1:0',
      },
      readyText: 'outbox start',
    })
    expect(output()).toContain(`delivering to ${sink.url}`)
    await outbox.send(mail('a@example.com'))
    await sink.waitFor(1, 10_000)
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
    expect(output()).toContain('stopping')
  })

  it('start with no upstream says mail is captured', async () => {
    const { child, output } = await startCli(['start'], {
      cwd,
      env: {
        OUTBOX_STORE: store,
        OUTBOX_SMTP_LISTEN: '127.0.0.1:0',
        OUTBOX_HTTP_LISTEN: '127.0.0.1:0',
      },
      readyText: 'outbox start',
    })
    expect(output()).toContain('captured')
    const { id } = await outbox.send(mail('a@example.com'))
    await waitUntil(
      async () => (await outbox.admin.getMessage(id)).status === 'sent',
      10_000,
      'capture',
    )
    expect((await outbox.admin.getMessage(id)).captured).toBe(true)
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    child.kill('SIGINT')
    expect(await exited).toBe(0)
  })

  it('two workers share one store without sending anything twice', async () => {
    await outbox.sendMany(Array.from({ length: 200 }, (_, i) => mail(`r${i}@example.com`)))
    const env = { OUTBOX_STORE: store, OUTBOX_UPSTREAM: sink.url, OUTBOX_LOG_LEVEL: 'warn' }
    const workers = await Promise.all(
      [1, 2].map(() =>
        startCli(['worker', '--log-level', 'info'], { cwd, env, readyText: 'outbox worker' }),
      ),
    )
    await sink.waitFor(200, 20_000)
    await sleep(300)
    for (const { child } of workers) child.kill('SIGTERM')
    await Promise.all(
      workers.map(({ child }) => new Promise((resolve) => child.once('exit', resolve))),
    )
    expect(sink.messages).toHaveLength(200)
  })
})

describe('list options', () => {
  it('refuses a --limit that is not a number, quoting it', async () => {
    for (const limit of ['abc', '0', '1001', '2.5', '']) {
      const result = await cli('list', '--limit', limit)
      expect(result.code, limit).toBe(2)
      expect(result.stderr).toContain(`--limit ${JSON.stringify(limit)}`)
      expect(result.stderr).not.toContain('null')
    }
  })

  it('refuses a cursor no listing gave', async () => {
    await outbox.sendMany([mail('a@example.com'), mail('b@example.com')])
    for (const cursor of ['garbage', 'MTIzOg', 'not%20base64']) {
      const result = await cli('list', '--cursor', cursor)
      expect(result.code, cursor).toBe(2)
      expect(result.stderr).toContain('cursor')
      expect(result.stdout).toBe('')
    }
    const first = json<{ nextCursor: string }>((await cli('list', '--limit', '1', '--json')).stdout)
    const second = await cli('list', '--limit', '1', '--cursor', first.nextCursor, '--json')
    expect(json<{ messages: unknown[] }>(second.stdout).messages).toHaveLength(1)
  })
})

describe('human output shows control characters escaped', () => {
  const hostile = '\u001b[2J\u001b]0;pwned\u0007 Re: x\u007fy'
  it('in list and show; --json stays exact', async () => {
    // Through send() the subject is stored as given; a raw message's headers are shown by show.
    const { id: sentId } = await outbox.send({ ...mail('ann@example.com'), subject: hostile })
    const { id: rawId } = await outbox.sendRaw({
      from: 'shop@example.com',
      to: ['ann@example.com'],
      raw: 'From: shop@example.com\r\nTo: ann@example.com\r\nSubject: hi\r\nX-Note: \u001b]0;pwned\u0007\r\n\r\nbody\r\n',
    })
    for (const args of [['list'], ['show', sentId], ['show', rawId]]) {
      const result = await cli(...args)
      expect(result.code).toBe(0)
      expect(result.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/)
    }
    expect((await cli('list')).stdout).toContain('\\x1b[2J\\x1b]0;pwned\\x07')
    expect((await cli('show', rawId)).stdout).toContain('X-Note: \\x1b]0;pwned\\x07')
    const listed = json<{ messages: { id: string; subject: string }[] }>(
      (await cli('list', '--json')).stdout,
    )
    expect(listed.messages.find((m) => m.id === sentId)!.subject).toBe(hostile)
  })
})
