import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import nodemailer from 'nodemailer'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createOutbox, type Outbox } from '../../src/index.js'
import { CLI, killStartedCli, startCli } from '../helpers/run-cli.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'
import { cleanEnv } from '../helpers/run-cli.js'

let cwd: string
let store: string
let sink: SmtpSink
let outbox: Outbox | null = null
beforeEach(async () => {
  cwd = mkdtempSync(join(tmpdir(), 'outbox-smarthost-'))
  store = `sqlite:${join(cwd, 'queue.db')}`
  sink = await createSmtpSink()
})
afterEach(async () => {
  killStartedCli()
  await outbox?.close()
  outbox = null
  await sink.close()
  rmSync(cwd, { recursive: true, force: true })
})

/** Submits one message over SMTP with Nodemailer; resolves with the reply to the final dot. */
async function submit(port: number, subject: string): Promise<string> {
  const transporter = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    ignoreTLS: true,
  })
  const info = (await transporter.sendMail({
    from: 's@example.com',
    to: 'a@example.com',
    subject,
    text: 'hello',
  })) as { response: string }
  transporter.close()
  return info.response
}

describe('smarthost as its own process', () => {
  it('a message answered 250 survives SIGKILL of the listener and is delivered after restart', async () => {
    const env = {
      OUTBOX_STORE: store,
      OUTBOX_UPSTREAM: sink.url,
      OUTBOX_SMTP_LISTEN: '127.0.0.1:0',
      OUTBOX_HTTP_LISTEN: '127.0.0.1:0',
    }
    const first = await startCli(['smtp'], { cwd, env, readyText: 'outbox smtp' })
    const port = Number(/SMTP on 127\.0\.0\.1:(\d+)/.exec(first.output())![1])
    const reply = await submit(port, 'survivor')
    expect(reply).toMatch(/^250 2\.\d\.\d+ Ok: queued as [0-9a-z]{20}$/)
    first.child.kill('SIGKILL') // right after the 250: nothing gets a chance to flush
    const id = reply.split(' ').at(-1)!
    await new Promise((resolve) => first.child.once('exit', resolve))

    await startCli(['start'], { cwd, env, readyText: 'outbox start' })
    await sink.waitFor(1, 15_000)
    expect(sink.messages[0]!.raw.toString()).toMatch(/Subject: survivor/)
    outbox = await createOutbox({ store })
    expect((await outbox.admin.getMessage(id)).status).toMatch(/sent|sending/)
  })

  it('outbox sendmail -t queues a message from stdin, Bcc in the envelope only, and a worker delivers it', async () => {
    const message =
      'From: App <app@example.com>\nTo: a@example.com\nCc: b@example.com\nBcc: secret@example.com\nSubject: from cron\n\nhello\n..leading dot\n'
    const child = spawn(process.execPath, [CLI, 'sendmail', '-t', '-oi'], {
      cwd,
      env: cleanEnv({ OUTBOX_STORE: store }),
    })
    child.stdin.end(message)
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    expect(code).toBe(0)
    expect(stderr).toMatch(/queued as [0-9a-z]{20}/)
    outbox = await createOutbox({ store, upstream: sink.url })
    await outbox.drain()
    expect(sink.messages).toHaveLength(1)
    expect(sink.messages[0]!.from).toBe('app@example.com')
    expect(sink.messages[0]!.to.sort()).toEqual([
      'a@example.com',
      'b@example.com',
      'secret@example.com',
    ])
    const raw = sink.messages[0]!.raw.toString()
    expect(raw).not.toMatch(/^bcc:/im)
    expect(raw).toContain('\r\n..leading dot\r\n'.replace('..', '..'))
  })

  it('outbox sendmail with recipients as arguments and -f; no recipients is exit 64', async () => {
    const run = (args: string[], input: string) =>
      new Promise<number | null>((resolve) => {
        const child = spawn(process.execPath, [CLI, 'sendmail', ...args], {
          cwd,
          env: cleanEnv({ OUTBOX_STORE: store }),
        })
        child.stdin.end(input)
        child.once('exit', resolve)
      })
    expect(
      await run(
        ['-f', 'bounce@example.com', 'x@example.com'],
        'Subject: args\n\nbody\n.\nnot part of it\n',
      ),
    ).toBe(0)
    expect(await run([], 'Subject: nobody\n\nbody\n')).toBe(64)
    outbox = await createOutbox({ store, upstream: sink.url })
    await outbox.drain()
    expect(sink.messages).toHaveLength(1)
    expect(sink.messages[0]!.from).toBe('bounce@example.com')
    expect(sink.messages[0]!.raw.toString()).not.toContain('not part of it')
  })
})
