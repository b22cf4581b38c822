import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect, createServer, type Socket } from 'node:net'
import nodemailer from 'nodemailer'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createOutbox, type Outbox } from '../../src/index.js'
import { CLI, killStartedCli, runCli, startCli } from '../helpers/run-cli.js'
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
    expect(reply).toMatch(/^250 2\.0\.0 Ok: queued as [0-9a-z]{20}$/)
    first.child.kill('SIGKILL') // right after the 250: nothing gets a chance to flush
    const id = reply.split(' ').at(-1)!
    await new Promise((resolve) => first.child.once('exit', resolve))

    await startCli(['start'], { cwd, env, readyText: 'outbox start' })
    await sink.waitFor(1, 15_000)
    expect(sink.messages[0]!.raw.toString()).toMatch(/Subject: survivor/)
    outbox = await createOutbox({ store })
    expect((await outbox.admin.getMessage(id)).status).toMatch(/sent|sending/)
  })

  it('outbox smtp takes its connection limits from the configuration', async () => {
    const env = {
      OUTBOX_STORE: store,
      OUTBOX_SMTP_LISTEN: '127.0.0.1:0',
      OUTBOX_SMTP_ALLOW_NETWORKS: '127.0.0.1/32',
      OUTBOX_SMTP_CONNECTIONS_PER_CLIENT: '1',
    }
    const daemon = await startCli(['smtp'], { cwd, env, readyText: 'outbox smtp' })
    const port = Number(/SMTP on 127\.0\.0\.1:(\d+)/.exec(daemon.output())![1])
    const sockets: Socket[] = []
    const greeting = (source: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port, localAddress: source })
        sockets.push(socket)
        socket.once('data', (d: Buffer) => resolve(d.toString()))
        socket.once('error', reject)
      })
    try {
      expect(await greeting('127.0.0.2')).toMatch(/^220 /)
      expect(await greeting('127.0.0.2')).toMatch(
        /^421 4\.7\.0 \S+ Error: too many connections from 127\.0\.0\.2/,
      )
      expect(await greeting('127.0.0.3')).toMatch(/^220 /)
    } finally {
      for (const socket of sockets) socket.destroy()
    }
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

/** Runs `outbox sendmail ARGS…` with `input` on stdin; resolves with its exit code, stderr and queue id. */
function sendmail(
  args: string[],
  input: string | Buffer,
  storeUrl = store,
): Promise<{ code: number | null; stderr: string; id: string | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'sendmail', ...args], {
      cwd,
      env: cleanEnv({ OUTBOX_STORE: storeUrl }),
    })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`outbox sendmail did not finish in time:\n${stderr}`))
    }, 30_000)
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stderr, id: /queued as (\S+)/.exec(stderr)?.[1] ?? null })
    })
    child.stdin.on('error', () => {})
    child.stdin.end(input)
  })
}

/** The stored bytes of a message, split at the first blank line. */
async function stored(id: string): Promise<{ head: string; body: string }> {
  outbox ??= await createOutbox({ store })
  const raw = (await outbox.admin.getRaw(id)).toString('utf8')
  const end = raw.indexOf('\r\n\r\n')
  return { head: raw.slice(0, end + 2), body: raw.slice(end + 4) }
}

describe('outbox sendmail reads messages as Postfix does', () => {
  it('input without a header block is all body; From, Date and Message-ID are added', async () => {
    const result = await sendmail(
      ['-f', 'app@example.com', 'x@example.com'],
      'hello body\nSubject: not a header\n',
    )
    expect(result.code).toBe(0)
    const { head, body } = await stored(result.id!)
    expect(body).toBe('hello body\r\nSubject: not a header\r\n')
    expect(head.split('\r\n').map((line) => line.split(':')[0])).toEqual([
      'Message-ID',
      'From',
      'Date',
      '',
    ])
    expect(head).toMatch(/^From: app@example\.com$/m)
    expect(head).toMatch(/^Date: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$/m)
    expect((await outbox!.admin.getMessage(result.id!)).subject).toBeNull()
  })

  it('-t reads every To, Cc and Bcc header; a message without From and Date gets them', async () => {
    const result = await sendmail(
      ['-t', '-oi', '-f', 'app@example.com'],
      'To: a@example.com\nTo: B <b@example.com>, c@example.com\nCc: d@example.com\nCc: e@example.com\n' +
        'Bcc: f@example.com\nBcc: g@example.com\nSubject: many\n\nbody\n',
    )
    expect(result.code).toBe(0)
    const { head, body } = await stored(result.id!)
    expect((await outbox!.admin.getMessage(result.id!)).recipients.sort()).toEqual(
      ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((l) => `${l}@example.com`),
    )
    expect(head).not.toMatch(/^bcc:/im)
    expect(head).toMatch(
      /^To: B <b@example\.com>, c@example\.com\r\nCc: d@example\.com\r\nCc: e@example\.com\r\nSubject: many\r\nFrom: app@example\.com\r\nDate: .+\r\n$/m,
    )
    expect(body).toBe('body\r\n')
  })

  it('UTF-8 subjects, encoded or raw: outbox list --subject café finds them and --json shows café', async () => {
    for (const subject of ['=?utf-8?q?caf=C3=A9_cr=C3=A8me?=', 'un café noir']) {
      const result = await sendmail(
        ['x@example.com'],
        Buffer.from(`From: app@example.com\nSubject: ${subject}\n\nbody\n`, 'utf8'),
      )
      expect(result.code).toBe(0)
    }
    const listed = await runCli(['list', '--json', '--subject', 'café'], {
      cwd,
      env: { OUTBOX_STORE: store },
    })
    expect(listed.code).toBe(0)
    const { messages } = JSON.parse(listed.stdout) as { messages: { subject: string }[] }
    expect(messages.map((m) => m.subject)).toEqual(['un café noir', 'café crème'])
    // Decomposed (e + combining grave) finds the composed form that is stored.
    const human = await runCli(['list', '--subject', 'cre\u0300me'], {
      cwd,
      env: { OUTBOX_STORE: store },
    })
    expect(human.stdout).toContain('café crème')
  })

  it('exits 75 (EX_TEMPFAIL) when the store cannot be opened, so callers keep the message', async () => {
    writeFileSync(join(cwd, 'a-file'), 'not a folder')
    mkdirSync(join(cwd, 'a-folder.db'))
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const closedPort = (closed.address() as { port: number }).port
    await new Promise((resolve) => closed.close(resolve))
    const stores = {
      'a folder that cannot be made': `sqlite:${join(cwd, 'a-file', 'queue.db')}`,
      'a database that is a folder': `sqlite:${join(cwd, 'a-folder.db')}`,
      'a PostgreSQL that is not there': `postgres://postgres@127.0.0.1:${closedPort}/test`,
    }
    for (const [what, url] of Object.entries(stores)) {
      const result = await sendmail(['x@example.com'], 'Subject: x\n\nbody\n', url)
      expect({ what, code: result.code }).toEqual({ what, code: 75 })
      expect(result.stderr).toMatch(/^outbox: .*(SQLite|PostgreSQL)/)
      expect(result.stderr).not.toMatch(/queued|\n\s+at /)
    }
  })
})
