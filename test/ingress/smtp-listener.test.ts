import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { createOutbox, type Outbox } from '../../src/index.js'
import { hashPassword } from '../../src/ingress/password-hash.js'
import {
  startSmtpListener,
  type SmtpListener,
  type SmtpListenerOptions,
} from '../../src/ingress/smtp-listener.js'
import { silentLogger } from '../../src/logger.js'
import { runCli } from '../helpers/run-cli.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'
import { sleep, tempSqliteUrl, waitUntil } from '../helpers/temp.js'
import { selfSignedCertificate } from '../helpers/tls-certificate.js'

const CLIENT = fileURLToPath(new URL('../fixtures/smtp_client.py', import.meta.url))
let dir: string
let tls: { key: Buffer; cert: Buffer }
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'outbox-smtp-'))
  const files = selfSignedCertificate(dir)
  tls = { key: readFileSync(files.key), cert: readFileSync(files.cert) }
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

let outbox: Outbox
let sink: SmtpSink
let listener: SmtpListener
let port: number
let store: string
afterEach(async () => {
  await listener?.close()
  await outbox?.close()
  await sink?.close()
})

async function setup(options: Partial<SmtpListenerOptions> = {}) {
  sink = await createSmtpSink()
  store = tempSqliteUrl()
  outbox = await createOutbox({
    store,
    upstream: sink.url,
    maxMessageSize: 30 * 1024 * 1024,
  })
  listener = await startSmtpListener(outbox, {
    listen: '127.0.0.1:0',
    maxMessageSize: 30 * 1024 * 1024,
    logger: silentLogger,
    tls,
    ...options,
  })
  port = Number(listener.addresses[0]!.split(':').pop())
}

function message(name: string, body: Buffer): string {
  const file = join(dir, name)
  writeFileSync(file, body)
  return file
}

const run = promisify(execFile)

/** Runs a client as a child process, without blocking the listener in this process. */
async function python(
  args: Record<string, unknown>,
): Promise<{ ok: boolean; code?: number; error?: string }> {
  const { stdout } = await run('python3', [CLIENT, JSON.stringify({ port, ...args })], {
    timeout: 120_000,
  })
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as {
    ok: boolean
    code?: number
    error?: string
  }
}

const total = async () =>
  Object.values(await outbox.admin.countByStatus()).reduce((a, b) => a + b, 0)

/** The sink got the client's bytes unchanged, after the one Received header Outbox adds. */
function expectSameBytes(received: Buffer, sent: Buffer) {
  const text = received.toString('latin1')
  expect(text).toMatch(/^Received: from python-client\.test \(\[127\.0\.0\.\d\]\)/m)
  const body = received.subarray(received.length - sent.length)
  expect(body.equals(sent)).toBe(true)
}

describe('SMTP listener with real clients', () => {
  it('python smtplib, plain, 8-bit and SMTPUTF8: queued, delivered byte-identical', async () => {
    await setup()
    const sent = Buffer.from(
      'From: Zoë <zoe@exämple.com>\r\nTo: bjørn@exämple.org\r\nSubject: Grüße\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nHej! Ærlig talt, ça marche. 日本語\r\n.leading dot line\r\n',
      'utf8',
    )
    const result = await python({
      from: 'zoe@exämple.com',
      to: ['bjørn@exämple.org'],
      file: message('utf8.eml', sent),
      smtputf8: true,
    })
    expect(result).toMatchObject({ ok: true })
    await outbox.drain()
    expect(sink.messages).toHaveLength(1)
    expect(sink.messages[0]!.to).toEqual(['bjørn@exämple.org'])
    expectSameBytes(sink.messages[0]!.raw, sent)
    // Relayed as it was submitted: declared 8-bit, with SMTPUTF8 (RFC 6152, RFC 6531).
    expect(sink.messages[0]).toMatchObject({ bodyType: '8bitmime', smtpUtf8: true })
  })

  it('the Message-ID added to a message without one goes below the Received header', async () => {
    await setup()
    const sent = Buffer.from('From: a@example.com\r\nSubject: no id\r\n\r\nbody\r\n')
    const result = await python({
      from: 'a@example.com',
      to: ['r@example.com'],
      file: message('noid.eml', sent),
    })
    expect(result).toMatchObject({ ok: true })
    await outbox.drain()
    const headers = sink.messages[0]!.raw.toString('latin1').split('\r\n\r\n')[0]!
    expect(headers).toMatch(
      /^Received: from python-client\.test .*\r\n\t.*\r\n\t.*\r\nMessage-ID: <[^>]+@example\.com>\r\nFrom: a@example\.com\r\n/,
    )
  })

  it('python smtplib with STARTTLS and AUTH from a non-allowed address; a 20 MB attachment arrives intact', async () => {
    await setup({
      allowNetworks: ['127.0.0.1/32'],
      users: [{ username: 'app', passwordHash: hashPassword('s3cret') }],
    })
    const attachment = Buffer.alloc(15 * 1024 * 1024)
    for (let i = 0; i < attachment.length; i++) attachment[i] = (i * 7919) & 0xff
    const b64 = attachment.toString('base64').replace(/.{76}/g, '$&\r\n')
    const sent = Buffer.from(
      `From: app@example.com\r\nTo: big@example.com\r\nSubject: big\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64}\r\n--b--\r\n`,
    )
    expect(sent.length).toBeGreaterThan(20 * 1000 * 1000)
    const result = await python({
      from: 'app@example.com',
      to: ['big@example.com'],
      file: message('big.eml', sent),
      source: '127.0.0.2',
      starttls: true,
      user: 'app',
      password: 's3cret',
    })
    expect(result).toMatchObject({ ok: true })
    await outbox.drain()
    expect(sink.messages).toHaveLength(1)
    expectSameBytes(sink.messages[0]!.raw, sent)
    expect(sink.messages[0]!.raw.toString('latin1')).toMatch(/with ESMTPSA/)
  })

  it('swaks with pipelining', async () => {
    await setup()
    const { stdout: out } = await run(
      'swaks',
      [
        '--server',
        `127.0.0.1:${port}`,
        '--from',
        's@example.com',
        '--to',
        'a@example.com,b@example.com',
        '--pipeline',
        '--header',
        'Subject: swaks',
      ],
      { timeout: 60_000 },
    )
    expect(out).toMatch(/PIPELINING/)
    expect(out).toMatch(/250 2\.0\.0 Ok: queued as [0-9a-z]{20}/)
    await outbox.drain()
    expect(sink.messages[0]!.to.sort()).toEqual(['a@example.com', 'b@example.com'])
  })

  it('advertises SIZE, PIPELINING, 8BITMIME, SMTPUTF8 and STARTTLS only with a certificate', async () => {
    await setup({ tls: undefined })
    const withoutTls = await converse(['EHLO client.test'])
    expect(withoutTls).toMatch(/250[- ]SIZE 31457280/)
    expect(withoutTls).toMatch(/PIPELINING/)
    expect(withoutTls).toMatch(/8BITMIME/)
    expect(withoutTls).toMatch(/SMTPUTF8/)
    expect(withoutTls).not.toMatch(/STARTTLS/)
    await listener.close()
    listener = await startSmtpListener(outbox, {
      listen: '127.0.0.1:0',
      maxMessageSize: 1024 * 1024,
      logger: silentLogger,
      tls,
    })
    port = Number(listener.addresses[0]!.split(':').pop())
    expect(await converse(['EHLO client.test'])).toMatch(/STARTTLS/)
  })
})

/** Speaks raw SMTP: sends each line after the previous reply, returns everything the server said. */
async function converse(
  lines: string[],
  source = '127.0.0.1',
  endAbruptly = false,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress: source })
    let transcript = ''
    let next = 0
    let done = false
    const timer = setTimeout(() => {
      socket.destroy()
      resolve(transcript)
    }, 10_000)
    socket.on('data', (chunk) => {
      transcript += chunk.toString()
      if (done || !/(^|\r\n)\d{3} [^\r\n]*\r\n$/.test(transcript)) return
      if (next < lines.length) socket.write(`${lines[next++]}\r\n`)
      else {
        done = true
        clearTimeout(timer)
        if (endAbruptly) socket.destroy()
        else socket.end('QUIT\r\n')
        setTimeout(() => resolve(transcript), 50)
      }
    })
    socket.on('error', reject)
  })
}

describe('SMTP listener refuses, with the right reply, and stores nothing', () => {
  const DATA = ['DATA', 'Subject: x\r\n\r\nbody\r\n.']
  it.each([
    [
      'an oversized message',
      { maxMessageSize: 2048 },
      [
        'EHLO c',
        'MAIL FROM:<s@example.com>',
        'RCPT TO:<a@example.com>',
        'DATA',
        `Subject: big\r\n\r\n${'x'.repeat(4000)}\r\n.`,
      ],
      /552 5\.3\.4/,
    ],
    [
      'too many recipients',
      { maxRecipients: 2 },
      [
        'EHLO c',
        'MAIL FROM:<s@example.com>',
        'RCPT TO:<a@example.com>',
        'RCPT TO:<b@example.com>',
        'RCPT TO:<c@example.com>',
      ],
      /452 4\.5\.3/,
    ],
    [
      'a bad recipient address',
      {},
      ['EHLO c', 'MAIL FROM:<s@example.com>', 'RCPT TO:<not an address>'],
      /^50[01] |\r\n50[01] |\r\n553 /m,
    ],
    [
      'a bad recipient domain',
      {},
      ['EHLO c', 'MAIL FROM:<s@example.com>', 'RCPT TO:<a@bad..domain>'],
      /\r\n(553|501) /,
    ],
    [
      'a non-ASCII recipient without SMTPUTF8 (as Postfix refuses it)',
      {},
      ['EHLO c', 'MAIL FROM:<s@example.com>', 'RCPT TO:<jörg@exämple.com>'],
      /\r\n553 5\.6\.7 Must declare SMTPUTF8 to send unicode address\r\n/,
    ],
    [
      'a non-ASCII sender without SMTPUTF8',
      {},
      ['EHLO c', 'MAIL FROM:<jörg@exämple.com> BODY=8BITMIME'],
      /\r\n553 5\.6\.7 Must declare SMTPUTF8/,
    ],
    ['a malformed command', {}, ['EHLO c', 'MAIL FROM s@example.com'], /\r\n50[01] /],
    ['an unknown command', {}, ['EHLO c', 'FROBNICATE'], /\r\n50[02] /],
  ])('%s', async (_name, options, lines, reply) => {
    await setup(options)
    expect(await converse([...lines, ...(lines.length < 4 ? [] : [])])).toMatch(reply)
    void DATA
    expect(await total()).toBe(0)
  })

  it('relaying without AUTH from a non-allowed address: 530', async () => {
    await setup({ allowNetworks: ['127.0.0.1/32'] })
    expect(await converse(['EHLO c', 'MAIL FROM:<s@example.com>'], '127.0.0.2')).toMatch(
      /530 5\.7\.0/,
    )
    expect(await total()).toBe(0)
  })

  it('AUTH without TLS from a non-allowed address: 538', async () => {
    await setup({
      allowNetworks: ['127.0.0.1/32'],
      users: [{ username: 'app', passwordHash: hashPassword('pw') }],
    })
    const plain = Buffer.from('\0app\0pw').toString('base64')
    expect(await converse(['EHLO c', `AUTH PLAIN ${plain}`], '127.0.0.2')).toMatch(
      /538 5\.7\.\d+ Encryption required/,
    )
    expect(await total()).toBe(0)
  })

  it('a wrong password: 535', async () => {
    await setup({ users: [{ username: 'app', passwordHash: hashPassword('pw') }] })
    const plain = Buffer.from('\0app\0nope').toString('base64')
    expect(await converse(['EHLO c', `AUTH PLAIN ${plain}`])).toMatch(/535 5\.7\.8/)
  })

  it('a client that stops in the middle of DATA', async () => {
    await setup()
    await new Promise<void>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port })
      socket.on('data', () => {})
      socket.write('EHLO c\r\nMAIL FROM:<s@example.com>\r\nRCPT TO:<a@example.com>\r\nDATA\r\n')
      setTimeout(() => {
        socket.write('Subject: half\r\n\r\nthe first half of a mess')
        setTimeout(() => {
          socket.destroy()
          resolve()
        }, 200)
      }, 300)
    })
    await sleep(300)
    expect(await total()).toBe(0)
  })

  it('a store failure answers 451, so the client keeps the message', async () => {
    await setup()
    await outbox.close()
    expect(
      await converse(['EHLO c', 'MAIL FROM:<s@example.com>', 'RCPT TO:<a@example.com>', ...DATA]),
    ).toMatch(/451 4\.3\.0/)
  })

  it('bare LF and bare CR are normalised, so no second message can be smuggled', async () => {
    await setup()
    const smuggle =
      'Subject: one\r\n\r\nhello\n.\r\nMAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\nSubject: two\r\n\r\nsmuggled\r\n.'
    expect(
      await converse([
        'EHLO c',
        'MAIL FROM:<s@example.com>',
        'RCPT TO:<a@example.com>',
        'DATA',
        smuggle,
      ]),
    ).toMatch(/250 2\.\d\.\d+ Ok: queued/)
    await outbox.drain()
    // One message upstream, the would-be second one inside its body, every line ending CRLF.
    expect(sink.messages).toHaveLength(1)
    expect(sink.messages[0]!.to).toEqual(['a@example.com'])
    expect(/(^|[^\r])\n/.test(sink.messages[0]!.raw.toString('latin1'))).toBe(false)
  })
})

describe('SMTP listener limits and addresses', () => {
  it('listens on IPv6 loopback too', async () => {
    sink = await createSmtpSink()
    outbox = await createOutbox({ store: tempSqliteUrl(), upstream: sink.url })
    listener = await startSmtpListener(outbox, {
      listen: '[::1]:0',
      maxMessageSize: 1024 * 1024,
      logger: silentLogger,
    })
    expect(listener.addresses[0]).toMatch(/^\[::1\]:\d+$/)
    const v6port = Number(listener.addresses[0]!.split(':').pop())
    const nodemailer = (await import('nodemailer')).default
    const transporter = nodemailer.createTransport({
      host: '::1',
      port: v6port,
      secure: false,
      ignoreTLS: true,
    })
    const info = (await transporter.sendMail({
      from: 's@example.com',
      to: 'a@example.com',
      subject: 'v6',
      text: 'x',
    })) as { response: string }
    transporter.close()
    expect(info.response).toMatch(/Ok: queued as/)
    expect(await total()).toBe(1)
  })

  it('refuses connections over maxClients with 421', async () => {
    await setup({ maxClients: 1 })
    const first = connect({ host: '127.0.0.1', port })
    await new Promise((resolve) => first.once('data', resolve))
    expect(await converse([])).toMatch(/^421 /)
    first.destroy()
  })

  it('refuses an over-long command line', async () => {
    await setup()
    expect(await converse(['EHLO c', `MAIL FROM:<${'a'.repeat(20_000)}@example.com>`])).toMatch(
      /\r\n(421|5\d\d) .*too long/,
    )
    expect(await total()).toBe(0)
  })

  it('closes a client that trickles DATA past the DATA timeout, and stores nothing', async () => {
    await setup({ dataTimeoutMs: 500 })
    const closed = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port })
      let sentData = false
      let trickle: NodeJS.Timeout | undefined
      socket.on('data', (chunk) => {
        if (!sentData && chunk.toString().startsWith('220')) {
          sentData = true
          socket.write(
            'EHLO c\r\nMAIL FROM:<s@example.com>\r\nRCPT TO:<a@example.com>\r\nDATA\r\nSubject: slow\r\n\r\n',
          )
        }
      })
      socket.on('close', () => {
        clearInterval(trickle)
        resolve(true)
      })
      socket.on('error', () => {})
      setTimeout(() => {
        clearInterval(trickle)
        socket.destroy()
        resolve(false)
      }, 5000)
    })
    expect(closed).toBe(true)
    expect(await total()).toBe(0)
  })
})

describe('implicit TLS', () => {
  it('accepts mail on a second, TLS-from-the-start port', async () => {
    sink = await createSmtpSink()
    outbox = await createOutbox({ store: tempSqliteUrl(), upstream: sink.url })
    listener = await startSmtpListener(outbox, {
      listen: '127.0.0.1:0',
      tlsListen: '127.0.0.1:0',
      tls,
      maxMessageSize: 1024 * 1024,
      logger: silentLogger,
    })
    expect(listener.addresses).toHaveLength(2)
    const tlsPort = Number(listener.addresses[1]!.split(':').pop())
    const nodemailer = (await import('nodemailer')).default
    const transporter = nodemailer.createTransport({
      host: '127.0.0.1',
      port: tlsPort,
      secure: true,
      tls: { rejectUnauthorized: false },
    })
    const info = (await transporter.sendMail({
      from: 's@example.com',
      to: 'a@example.com',
      subject: 'smtps',
      text: 'x',
    })) as { response: string }
    transporter.close()
    expect(info.response).toMatch(/Ok: queued as/)
    await outbox.drain()
    expect(sink.messages[0]!.raw.toString()).toMatch(/with ESMTPS;/)
  })
})

/** Connects from `source` and resolves with the socket once the server has said its first line. */
const greetedSockets: Socket[] = []
afterEach(() => {
  for (const socket of greetedSockets.splice(0)) socket.destroy()
})
async function greeted(source: string): Promise<{ socket: Socket; greeting: string }> {
  const socket = connect({ host: '127.0.0.1', port, localAddress: source })
  greetedSockets.push(socket)
  socket.on('error', () => {})
  const greeting = await new Promise<string>((resolve, reject) => {
    let text = ''
    const timer = setTimeout(() => reject(new Error(`no greeting for ${source}`)), 10_000)
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString()
      if (text.includes('\r\n')) {
        clearTimeout(timer)
        resolve(text)
      }
    })
  })
  return { socket, greeting }
}

describe('replies say what Postfix says', () => {
  it('answers the final dot with exactly 250 2.0.0 Ok: queued as <id>', async () => {
    await setup()
    const transcript = await converse([
      'EHLO c',
      'MAIL FROM:<s@example.com>',
      'RCPT TO:<a@example.com>',
      'DATA',
      'Subject: x\r\n\r\nbody\r\n.',
    ])
    const lines = transcript.split('\r\n')
    const reply = lines[lines.findIndex((line) => line.startsWith('354')) + 1]!
    expect(reply).toMatch(/^250 2\.0\.0 Ok: queued as [0-9a-z]{20}$/)
    expect((await outbox.admin.getMessage(reply.split(' ').at(-1)!)).status).toBe('queued')
  })

  it('offers AUTH only when smtp.users are configured', async () => {
    await setup({ tls: undefined })
    const plain = Buffer.from('\0app\0pw').toString('base64')
    const withoutUsers = await converse(['EHLO c', `AUTH PLAIN ${plain}`])
    expect(withoutUsers).toMatch(/^250[- ]PIPELINING/m)
    expect(withoutUsers).not.toMatch(/^250[- ]AUTH/m)
    expect(withoutUsers).toMatch(/\r\n50\d 5\.5\.\d /)
    await listener.close()
    listener = await startSmtpListener(outbox, {
      listen: '127.0.0.1:0',
      maxMessageSize: 1024 * 1024,
      logger: silentLogger,
      users: [{ username: 'app', passwordHash: hashPassword('pw') }],
    })
    port = Number(listener.addresses[0]!.split(':').pop())
    const withUsers = await converse(['EHLO c', `AUTH PLAIN ${plain}`])
    expect(withUsers).toMatch(/^250[- ]AUTH PLAIN LOGIN$/m)
    expect(withUsers).toMatch(/\r\n235 2\.7\.0 /)
  })

  it('a message over the store limit once Outbox adds its headers: 552 with one enhanced code', async () => {
    sink = await createSmtpSink()
    outbox = await createOutbox({
      store: tempSqliteUrl(),
      upstream: sink.url,
      maxMessageSize: 4096,
    })
    listener = await startSmtpListener(outbox, {
      listen: '127.0.0.1:0',
      maxMessageSize: 8192,
      logger: silentLogger,
    })
    port = Number(listener.addresses[0]!.split(':').pop())
    const transcript = await converse([
      'EHLO c',
      'MAIL FROM:<s@example.com>',
      'RCPT TO:<a@example.com>',
      'DATA',
      `Subject: big\r\n\r\n${'x'.repeat(4500)}\r\n.`,
    ])
    expect(transcript).toMatch(/\r\n552 5\.\d\.\d The message is [^\r\n]*limit\.\r\n/)
    expect(await total()).toBe(0)
  })
})

describe('subjects are stored as people read them', () => {
  it('encoded words, raw 8-bit UTF-8 and Latin-1: outbox list --subject café finds all three', async () => {
    await setup()
    const sent = {
      encoded: Buffer.from(
        'From: a@example.com\r\nTo: b@example.com\r\nSubject: =?utf-8?q?caf=C3=A9?= =?iso-8859-1?b?IGF1IGxhaXQ=?=\r\n\r\nx\r\n',
      ),
      utf8: Buffer.from(
        'From: a@example.com\r\nTo: b@example.com\r\nSubject: Grüße aus dem café\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nx\r\n',
        'utf8',
      ),
      latin1: Buffer.from(
        'From: a@example.com\r\nTo: b@example.com\r\nSubject: un caf\xe9 cr\xe8me\r\n\r\nx\r\n',
        'latin1',
      ),
    }
    for (const [name, body] of Object.entries(sent)) {
      const result = await python({
        from: 'a@example.com',
        to: ['b@example.com'],
        file: message(`${name}.eml`, body),
        smtputf8: name === 'utf8',
      })
      expect(result).toMatchObject({ ok: true })
    }
    const listed = await runCli(['list', '--json', '--subject', 'café'], {
      cwd: dir,
      env: { OUTBOX_STORE: store },
    })
    expect(listed.code).toBe(0)
    const { messages } = JSON.parse(listed.stdout) as {
      messages: { id: string; subject: string }[]
    }
    expect(messages.map((m) => m.subject).sort()).toEqual([
      'Grüße aus dem café',
      'café au lait',
      'un café crème',
    ])
    // What is stored and sent is what the client sent.
    const raws = await Promise.all(messages.map((m) => outbox.admin.getRaw(m.id)))
    for (const body of Object.values(sent)) {
      const subjectLine = body.subarray(body.indexOf('Subject:'), body.indexOf('\r\n\r\n'))
      expect(raws.some((raw) => raw.includes(subjectLine))).toBe(true)
    }
  })

  it('a DATA without a header block keeps its first line in the body', async () => {
    await setup()
    const transcript = await converse([
      'EHLO c',
      'MAIL FROM:<s@example.com>',
      'RCPT TO:<a@example.com>',
      'DATA',
      'hello body\r\nSubject: not a header\r\n.',
    ])
    const id = /250 2\.0\.0 Ok: queued as (\S+)/.exec(transcript)![1]!
    const raw = (await outbox.admin.getRaw(id)).toString()
    expect(raw).toMatch(/\r\n\r\nhello body\r\nSubject: not a header\r\n$/)
    expect((await outbox.admin.getMessage(id)).subject).toBeNull()
  })
})

describe('slow clients cannot hold every slot', () => {
  it('150 tricklers from 127.0.0.2-9 leave 127.0.0.1 a slot, and their deadlines close them', async () => {
    const commandTimeoutMs = 4000
    const envelopeTimeoutMs = 7000
    await setup({ allowNetworks: ['127.0.0.1/32'], commandTimeoutMs, envelopeTimeoutMs })
    interface Trickler {
      kind: 'bytes' | 'lines'
      socket: Socket
      transcript: string
      openedAt: number
      closedAt: number | null
      timer?: NodeJS.Timeout
    }
    const tricklers: Trickler[] = []
    onTestFinished(() => {
      for (const t of tricklers) {
        clearInterval(t.timer)
        t.socket.destroy()
      }
    })
    for (let i = 0; i < 150; i++) {
      const socket = connect({ host: '127.0.0.1', port, localAddress: `127.0.0.${2 + (i % 8)}` })
      // Half send a byte a second and never finish a command; half finish a NOOP every 500 ms,
      // within the command deadline, and never reach DATA.
      const t: Trickler = {
        kind: i % 2 === 0 ? 'bytes' : 'lines',
        socket,
        transcript: '',
        openedAt: Date.now(),
        closedAt: null,
      }
      const ehlo = Buffer.from('EHLO trickler.example.com\r\n')
      let ticks = 0
      socket.on('data', (chunk: Buffer) => {
        t.transcript += chunk.toString()
        if (t.timer || !t.transcript.startsWith('220')) return
        t.timer = setInterval(
          () => {
            if (++ticks > 40 || socket.destroyed) return clearInterval(t.timer)
            socket.write(t.kind === 'bytes' ? ehlo.subarray(ticks - 1, ticks) : 'NOOP\r\n')
          },
          t.kind === 'bytes' ? 1000 : 500,
        )
      })
      socket.on('error', () => {})
      socket.on('close', () => {
        t.closedAt = Date.now()
        clearInterval(t.timer)
      })
      tricklers.push(t)
    }
    await waitUntil(
      () => tricklers.every((t) => /^(220|421) /.test(t.transcript)),
      15_000,
      'a greeting or a refusal for every trickler',
    )
    const admitted = tricklers.filter((t) => t.transcript.startsWith('220'))
    const refused = tricklers.filter((t) => t.transcript.startsWith('421'))
    // 10 per address, 80 % of the 100 slots for all of them together.
    expect(admitted).toHaveLength(80)
    for (const t of refused) {
      expect(t.transcript).toMatch(
        /^421 4\.7\.0 \S+ Error: too many connections from 127\.0\.0\.\d/,
      )
    }

    const nodemailer = (await import('nodemailer')).default
    const transporter = nodemailer.createTransport({
      host: '127.0.0.1',
      port,
      secure: false,
      ignoreTLS: true,
    })
    const before = Date.now()
    const info = (await transporter.sendMail({
      from: 's@example.com',
      to: 'a@example.com',
      subject: 'trusted',
      text: 'x',
    })) as { response: string }
    const trustedMs = Date.now() - before
    transporter.close()
    expect(info.response).toMatch(/^250 2\.0\.0 Ok: queued as [0-9a-z]{20}$/)
    expect(trustedMs).toBeLessThan(2000)
    // It got a slot while every trickler still held one.
    expect(admitted.filter((t) => t.closedAt === null)).toHaveLength(80)

    await waitUntil(
      () => admitted.every((t) => t.closedAt !== null),
      envelopeTimeoutMs + 15_000,
      'every trickler closed',
    )
    const lasted = (kind: Trickler['kind']) =>
      admitted.filter((t) => t.kind === kind).map((t) => t.closedAt! - t.openedAt)
    for (const t of admitted) {
      expect(t.transcript).toMatch(/\r\n421 4\.4\.2 \S+ Error: timeout exceeded\r\n$/)
    }
    // Byte tricklers by the command deadline, NOOP tricklers by the envelope deadline.
    for (const ms of lasted('bytes')) {
      expect(ms).toBeGreaterThan(commandTimeoutMs - 200)
      expect(ms).toBeLessThan(commandTimeoutMs + 5000)
    }
    for (const ms of lasted('lines')) {
      expect(ms).toBeGreaterThan(envelopeTimeoutMs - 200)
      expect(ms).toBeLessThan(envelopeTimeoutMs + 5000)
    }
    console.log(
      `trusted client queued in ${trustedMs} ms; tricklers lasted ${Math.min(...lasted('bytes'))}-${Math.max(...lasted('bytes'))} ms (bytes), ${Math.min(...lasted('lines'))}-${Math.max(...lasted('lines'))} ms (lines)`,
    )
  })

  it.each(['STARTTLS', 'implicit TLS'])(
    'over %s, commands keep a client alive and silence past the command deadline closes it with 421',
    async (mode) => {
      const commandTimeoutMs = 2500
      await setup({ tlsListen: '127.0.0.1:0', commandTimeoutMs, envelopeTimeoutMs: 30_000 })
      const secure = await new Promise<TLSSocket>((resolve, reject) => {
        const options = { rejectUnauthorized: false }
        if (mode === 'implicit TLS') {
          const tlsPort = Number(listener.addresses[1]!.split(':').pop())
          const socket = tlsConnect({ host: '127.0.0.1', port: tlsPort, ...options }, () =>
            resolve(socket),
          )
          socket.on('error', reject)
          return
        }
        const plain = connect({ host: '127.0.0.1', port })
        plain.on('error', reject)
        // Each reply ends with a line "NNN text"; answer the greeting, EHLO, then STARTTLS.
        const steps = ['EHLO c\r\n', 'STARTTLS\r\n']
        let said = ''
        plain.on('data', (chunk: Buffer) => {
          said += chunk.toString()
          if (!/(^|\r\n)\d{3} [^\r\n]*\r\n$/.test(said)) return
          said = ''
          const next = steps.shift()
          if (next) return void plain.write(next)
          plain.removeAllListeners('data')
          const socket = tlsConnect({ socket: plain, ...options }, () => resolve(socket))
          socket.on('error', reject)
        })
      })
      let transcript = ''
      let closedAt = 0
      secure.on('data', (chunk: Buffer) => (transcript += chunk.toString()))
      secure.on('close', () => (closedAt = Date.now()))
      if (mode === 'implicit TLS') await waitUntil(() => transcript.startsWith('220 '))
      // NOOPs for longer than a command deadline, each well within one.
      let lastLine = 0
      for (let i = 0; i < 8; i++) {
        secure.write('NOOP\r\n')
        lastLine = Date.now()
        await sleep(500)
      }
      expect(closedAt).toBe(0)
      await waitUntil(() => closedAt > 0, commandTimeoutMs + 10_000, 'the connection to close')
      expect(closedAt - lastLine).toBeGreaterThan(commandTimeoutMs - 200)
      expect(transcript).toMatch(/\r\n421 4\.4\.2 \S+ Error: timeout exceeded\r\n$/)
      secure.destroy()
    },
  )

  it('a TLS handshake trickled in a byte at a time is cut off by the command deadline', async () => {
    const commandTimeoutMs = 1500
    await setup({ tlsListen: '127.0.0.1:0', commandTimeoutMs })
    const tlsPort = Number(listener.addresses[1]!.split(':').pop())
    const socket = connect({ host: '127.0.0.1', port: tlsPort })
    socket.on('error', () => {})
    const openedAt = Date.now()
    let closedAt = 0
    socket.on('close', () => (closedAt = Date.now()))
    // The first bytes of a TLS ClientHello record, one every 300 ms (bounded).
    const hello = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03])
    for (let i = 0; i < 40 && closedAt === 0; i++) {
      socket.write(hello.subarray(i % hello.length, (i % hello.length) + 1))
      await sleep(300)
    }
    expect(closedAt).toBeGreaterThan(0)
    expect(closedAt - openedAt).toBeGreaterThan(commandTimeoutMs - 200)
    expect(closedAt - openedAt).toBeLessThan(commandTimeoutMs + 8000)
    socket.destroy()
  })

  it('clients outside allowNetworks never fill the slots kept for trusted ones', async () => {
    await setup({
      allowNetworks: ['127.0.0.1/32'],
      maxClients: 4,
      outsideClientShare: 50,
      connectionsPerClient: 10,
    })
    const greetings: string[] = []
    for (const source of [
      '127.0.0.2',
      '127.0.0.3',
      '127.0.0.4',
      '127.0.0.1',
      '127.0.0.1',
      '127.0.0.1',
    ]) {
      greetings.push((await greeted(source)).greeting)
    }
    expect(greetings[0]).toMatch(/^220 /)
    expect(greetings[1]).toMatch(/^220 /)
    expect(greetings[2]).toMatch(
      /^421 4\.7\.0 \S+ Error: too many connections from outside the trusted networks/,
    )
    expect(greetings[3]).toMatch(/^220 /)
    expect(greetings[4]).toMatch(/^220 /)
    expect(greetings[5]).toMatch(/^421 4\.3\.2 \S+ Too many connected/)
    for (const socket of greetedSockets.splice(0)) socket.destroy()
  })
})
