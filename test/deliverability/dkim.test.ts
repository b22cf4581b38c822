import { createPrivateKey, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import nodemailer from 'nodemailer'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, createOutbox, type Outbox, type OutboxOptions } from '../../src/index.js'
import { startSmtpListener, type SmtpListener } from '../../src/ingress/smtp-listener.js'
import { silentLogger } from '../../src/logger.js'
import { dkimSignatureCount, dnsValue, newDkimKey, verifyDkim } from '../helpers/dkim.js'
import { runCli } from '../helpers/run-cli.js'
import { createSmtpSink, type SinkScript, type SmtpSink } from '../helpers/smtp-sink.js'
import { tempSqliteUrl } from '../helpers/temp.js'

/**
 * DKIM signing end to end: Outbox signs at enqueue, a real SMTP sink receives the bytes, and
 * mailauth (an independent verifier) checks them against the TXT records a stub resolver serves.
 */

const rsaKey = newDkimKey('rsa-sha256', 2048)
const edKey = newDkimKey('ed25519-sha256')
/** The DNS as receivers would see it once the records are published. */
const dns: Record<string, string> = {
  's1._domainkey.example.com': dnsValue(rsaKey),
  'ed._domainkey.ed.example': dnsValue(edKey),
}
const DKIM: OutboxOptions['dkim'] = [
  { domain: 'example.com', selector: 's1', privateKey: rsaKey },
  { domain: 'ed.example', selector: 'ed', privateKey: edKey, algorithm: 'ed25519-sha256' },
]

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'outbox-dkim-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

async function setup(
  options: Partial<OutboxOptions> = {},
  script: SinkScript = {},
): Promise<{ outbox: Outbox; sink: SmtpSink }> {
  const sink = await createSmtpSink({ script })
  cleanups.push(() => sink.close())
  const outbox = await createOutbox({
    store: tempSqliteUrl(),
    upstream: sink.url,
    dkim: DKIM,
    retry: { initialDelay: 50, maxDelay: 100, jitter: 0 },
    ...options,
  })
  cleanups.push(() => outbox.close())
  return { outbox, sink }
}

/** Delivers everything and returns what the sink got for `id`, checked against the store. */
async function deliveredBytes(outbox: Outbox, sink: SmtpSink, id: string): Promise<Buffer> {
  await outbox.drain()
  await sink.waitFor(1, 30_000)
  const received = sink.messages.at(-1)!.raw
  // The stored raw is the bytes sent: signed once, at enqueue.
  expect(received.equals(await outbox.admin.getRaw(id))).toBe(true)
  return received
}

describe('DKIM signing of what Outbox sends', () => {
  it('a plain message verifies (rsa-sha256), its stored raw equals the bytes received', async () => {
    const { outbox, sink } = await setup()
    const { id } = await outbox.send({
      from: 'Shop <shop@example.com>',
      to: 'ann@example.org',
      subject: 'Receipt',
      text: 'Thanks for your order.',
    })
    const raw = await deliveredBytes(outbox, sink, id)
    expect(dkimSignatureCount(raw)).toBe(1)
    expect(await verifyDkim(raw, dns)).toEqual([
      { domain: 'example.com', selector: 's1', algorithm: 'rsa-sha256', result: 'pass' },
    ])
  })

  it('attachments and 8-bit UTF-8 text: bodies and line endings intact, signature verifies', async () => {
    const { outbox, sink } = await setup()
    const pdf = randomBytes(200_000)
    const composed = await outbox.send({
      from: 'shop@example.com',
      to: 'ann@example.org',
      subject: 'Grüße ✓',
      text: 'Grüße aus Köln, ça marche. 日本語\n.\nA line with a lone dot above.',
      html: '<p>Grüße</p>',
      attachments: [
        { filename: 'receipt.pdf', content: pdf },
        { filename: 'notes.txt', content: 'Zoë\r\nBjørn\r\n' },
      ],
    })
    const raw = await deliveredBytes(outbox, sink, composed.id)
    expect(await verifyDkim(raw, dns)).toEqual([expect.objectContaining({ result: 'pass' })])
    expect(raw.toString('latin1')).toContain(pdf.toString('base64').slice(0, 76))

    // Raw 8-bit bytes, not encoded by Nodemailer: as an SMTP client or sendmail hands them in.
    const body =
      'From: Zoë <zoe@example.com>\r\nTo: bjorn@example.org\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n' +
      'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n' +
      '--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n' +
      'Hej! Ærlig talt, ça marche. 日本語\r\n.leading dot line\r\n  trailing spaces  \r\n\r\n' +
      '--b1\r\nContent-Type: application/octet-stream; name="x.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
      `${pdf.subarray(0, 3000).toString('base64').replace(/.{76}/g, '$&\r\n')}\r\n--b1--\r\n`
    const sent = Buffer.from(body, 'utf8')
    const eight = await outbox.sendRaw({
      from: 'zoe@example.com',
      to: ['bjorn@example.org'],
      raw: sent,
    })
    await outbox.drain()
    await sink.waitFor(2, 30_000)
    const got = sink.messages[1]!
    expect(got.raw.equals(await outbox.admin.getRaw(eight.id))).toBe(true)
    // Everything after the signature is the message as handed in, byte for byte.
    expect(got.raw.subarray(got.raw.length - sent.length).equals(sent)).toBe(true)
    expect(got.bodyType).toBe('8bitmime')
    expect(dkimSignatureCount(got.raw)).toBe(1)
    expect(await verifyDkim(got.raw, dns)).toEqual([
      expect.objectContaining({ domain: 'example.com', result: 'pass' }),
    ])
  })

  it('signs with ed25519-sha256', async () => {
    const { outbox, sink } = await setup()
    const { id } = await outbox.send({
      from: 'news@ed.example',
      to: 'ann@example.org',
      subject: 'Ed25519',
      text: 'Short keys.',
    })
    const raw = await deliveredBytes(outbox, sink, id)
    expect(await verifyDkim(raw, dns)).toEqual([
      { domain: 'ed.example', selector: 'ed', algorithm: 'ed25519-sha256', result: 'pass' },
    ])
  })

  it("a parent domain's key signs a subdomain's mail (d= the parent)", async () => {
    const { outbox, sink } = await setup()
    const { id } = await outbox.send({
      from: 'Newsletter <letters@news.example.com>',
      to: 'ann@example.org',
      subject: 'Parent key',
      text: 'Signed by example.com.',
    })
    const raw = await deliveredBytes(outbox, sink, id)
    expect(await verifyDkim(raw, dns)).toEqual([
      { domain: 'example.com', selector: 's1', algorithm: 'rsa-sha256', result: 'pass' },
    ])
  })

  it('mail whose From domain has no key arrives unsigned, unchanged', async () => {
    const { outbox, sink } = await setup()
    const { id } = await outbox.send({
      from: 'someone@example.net',
      to: 'ann@example.org',
      subject: 'No key',
      text: 'Not ours to sign.',
    })
    const raw = await deliveredBytes(outbox, sink, id)
    expect(dkimSignatureCount(raw)).toBe(0)
    // Not signed by a key of example.com either (that would be a From/d= mismatch).
    expect(raw.toString('latin1')).not.toMatch(/d=example\.com/)
  })

  it('through the Nodemailer transport too', async () => {
    const { outbox, sink } = await setup()
    const transporter = nodemailer.createTransport(outbox.transport())
    await transporter.sendMail({
      from: 'shop@example.com',
      to: 'ann@example.org',
      subject: 'Via sendMail()',
      text: 'Drop-in.',
    })
    await outbox.drain()
    await sink.waitFor(1, 30_000)
    expect(await verifyDkim(sink.messages[0]!.raw, dns)).toEqual([
      expect.objectContaining({ domain: 'example.com', result: 'pass' }),
    ])
  })

  it('a message deferred once (451) is retried with the same bytes: exactly one signature', async () => {
    let first = true
    const { outbox, sink } = await setup(
      {},
      {
        data: () => {
          if (!first) return 'accept'
          first = false
          return { code: 451, message: 'Try again later' }
        },
      },
    )
    const { id } = await outbox.send({
      from: 'shop@example.com',
      to: 'ann@example.org',
      subject: 'Retried',
      text: 'Second time lucky.',
    })
    const worker = outbox.worker({ concurrency: 1 })
    await worker.start()
    cleanups.push(() => worker.stop())
    await sink.waitFor(1, 30_000)
    expect(sink.transactions).toBe(2)
    const raw = sink.messages[0]!.raw
    expect(dkimSignatureCount(raw)).toBe(1)
    expect(raw.equals(await outbox.admin.getRaw(id))).toBe(true)
    expect(await verifyDkim(raw, dns)).toEqual([expect.objectContaining({ result: 'pass' })])
  })
})

describe('DKIM signing of mail relayed through the SMTP listener', () => {
  it('a client on an allowed network: the relayed message verifies, below the Received header', async () => {
    const { outbox, sink } = await setup()
    const listener: SmtpListener = await startSmtpListener(outbox, {
      listen: '127.0.0.1:0',
      allowNetworks: ['127.0.0.0/8'],
      maxMessageSize: 10 * 1024 * 1024,
      hostname: 'outbox.test',
      logger: silentLogger,
    })
    cleanups.push(() => listener.close())
    const port = Number(listener.addresses[0]!.split(':').pop())
    const client = nodemailer.createTransport({
      host: '127.0.0.1',
      port,
      secure: false,
      ignoreTLS: true,
      name: 'app.test',
    })
    cleanups.push(async () => client.close())
    const sent = Buffer.from(
      'From: App <app@example.com>\r\nTo: ann@example.org\r\nSubject: Relayed\r\nMessage-ID: <relayed-1@example.com>\r\n' +
        'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nÜber SMTP.\r\n',
      'utf8',
    )
    await client.sendMail({
      envelope: { from: 'app@example.com', to: ['ann@example.org'] },
      raw: sent,
    })
    await outbox.drain()
    await sink.waitFor(1, 30_000)
    const raw = sink.messages[0]!.raw
    const text = raw.toString('latin1')
    expect(text).toMatch(/^Received: from app\.test \(\[127\.0\.0\.1\]\)[^]*?\r\nDKIM-Signature: /)
    expect(raw.subarray(raw.length - sent.length).equals(sent)).toBe(true)
    expect(await verifyDkim(raw, dns)).toEqual([
      expect.objectContaining({ domain: 'example.com', result: 'pass' }),
    ])
  })
})

describe('bad DKIM keys stop createOutbox() with a clear error', () => {
  const weak = newDkimKey('rsa-sha256', 512)
  it.each([
    [
      'an unreadable file',
      () => ({ privateKey: `file:${join(dir, 'missing.pem')}` }),
      /^Option dkim\[0\]\.privateKey \(example\.com\): cannot read file:.*missing\.pem: no such file; check the path\.$/,
    ],
    [
      'a garbage PEM',
      () => {
        writeFileSync(
          join(dir, 'garbage.pem'),
          '-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n',
        )
        return { privateKey: `file:${join(dir, 'garbage.pem')}` }
      },
      /^Option dkim\[0\]\.privateKey \(example\.com\) from file:.*garbage\.pem: not a PEM private key/,
    ],
    [
      'a 512-bit RSA key',
      () => ({ privateKey: weak }),
      /^Option dkim\[0\]\.privateKey \(example\.com\) from inline PEM: a 512-bit RSA key: receivers ignore signatures by keys under 1024 bits; create a 2048-bit one with `outbox dkim generate`\.$/,
    ],
    [
      'an ed25519 key with algorithm rsa-sha256',
      () => ({ privateKey: edKey, algorithm: 'rsa-sha256' as const }),
      /^Option dkim\[0\]\.privateKey \(example\.com\) from inline PEM: an ed25519 key, but algorithm is rsa-sha256; set algorithm to "ed25519-sha256"/,
    ],
    [
      'a missing environment variable',
      () => ({ privateKey: 'env:OUTBOX_TEST_NO_SUCH_KEY' }),
      /^Option dkim\[0\]\.privateKey \(example\.com\): environment variable OUTBOX_TEST_NO_SUCH_KEY is not set; set it to the PEM text of the private key\.$/,
    ],
  ])('%s', async (_, key, message) => {
    const store = tempSqliteUrl()
    const attempt = createOutbox({
      store,
      dkim: [{ domain: 'example.com', selector: 's1', ...key() }],
    })
    const error = (await attempt.then(
      () => expect.unreachable('createOutbox() accepted a bad key'),
      (e: unknown) => e,
    )) as ConfigError
    expect(error).toBeInstanceOf(ConfigError)
    expect(error.code).toBe('OUTBOX_INVALID_CONFIG')
    expect(error.key).toBe('dkim[0].privateKey')
    expect(error.message).toMatch(message)
    // Never the key's text (a line of its base64), whatever is wrong with it.
    expect(error.message).not.toContain('at all')
    expect(error.message).not.toContain(weak.split('\n')[1]!)
  })
})

describe('outbox dkim (the CLI)', () => {
  let cwd: string
  afterEach(() => rmSync(cwd, { recursive: true, force: true }))

  const cli = (args: string[], env: Record<string, string> = {}) =>
    runCli(args, { cwd, env, timeoutMs: 60_000 })

  it('dkim dns prints the TXT record (and a zone-file line) that verifies the signatures', async () => {
    cwd = mkdtempSync(join(tmpdir(), 'outbox-dkim-cli-'))
    writeFileSync(join(cwd, 's1.pem'), rsaKey, { mode: 0o600 })
    writeFileSync(
      join(cwd, 'outbox.config.json'),
      JSON.stringify({
        dkim: [
          { domain: 'example.com', selector: 's1', privateKey: `file:${join(cwd, 's1.pem')}` },
          {
            domain: 'ed.example',
            selector: 'ed',
            privateKey: 'env:ED_KEY',
            algorithm: 'ed25519-sha256',
          },
        ],
      }),
    )
    const env = { ED_KEY: edKey }
    const json = await cli(['dkim', 'dns', 'example.com', '--json'], env)
    expect(json).toMatchObject({ code: 0, stderr: '' })
    const [record] = JSON.parse(json.stdout) as { name: string; value: string; zoneLine: string }[]
    expect(record).toMatchObject({
      name: 's1._domainkey.example.com',
      type: 'TXT',
      value: dnsValue(rsaKey),
      algorithm: 'rsa-sha256',
    })
    const strings = [...record!.zoneLine.matchAll(/"([^"]*)"/g)].map((m) => m[1]!)
    expect(strings.every((s) => s.length <= 255)).toBe(true)
    expect(strings.join('')).toBe(record!.value)

    const human = await cli(['dkim', 'dns', 'ed.example'], env)
    expect(human.code).toBe(0)
    expect(human.stdout).toContain('ed._domainkey.ed.example')
    expect(human.stdout).toContain(`value  ${dnsValue(edKey)}`)
    expect(human.stdout).toMatch(
      /^ {2}ed\._domainkey\.ed\.example\. 3600 IN TXT "v=DKIM1; k=ed25519; p=[^"]+"$/m,
    )

    // A subdomain without a key of its own is signed with its parent's: that record it is.
    const sub = await cli(['dkim', 'dns', 'news.example.com', '--json'], env)
    expect(sub.code).toBe(0)
    expect(JSON.parse(sub.stdout)).toEqual([
      expect.objectContaining({ name: 's1._domainkey.example.com' }),
    ])

    const unknown = await cli(['dkim', 'dns', 'example.org'], env)
    expect(unknown.code).toBe(2)
    expect(unknown.stdout).toBe('')
    expect(unknown.stderr).toMatch(
      /no DKIM key is configured for example\.org \(configured: example\.com, ed\.example\).*outbox dkim generate --domain example\.org/,
    )

    // A broken key is reported as createOutbox() reports it, without the key's text.
    const broken = await cli(['dkim', 'dns', 'ed.example'], { ED_KEY: rsaKey })
    expect(broken.code).toBe(2)
    expect(broken.stderr).toMatch(
      /dkim\[1\]\.privateKey \(ed\.example\) from env:ED_KEY: an rsa key, but algorithm is ed25519-sha256/,
    )
    expect(broken.stderr).not.toContain('BEGIN')
  })

  it('a bad key stops `outbox send` before anything is sent, exit 2; `outbox config` never shows a key', async () => {
    cwd = mkdtempSync(join(tmpdir(), 'outbox-dkim-cli-'))
    const store = `sqlite:${join(cwd, 'queue.db')}`
    const weak = newDkimKey('rsa-sha256', 512)
    // `outbox send` works on an existing queue.
    await (await createOutbox({ store })).close()
    const dkim = JSON.stringify([{ domain: 'example.com', selector: 's1', privateKey: weak }])
    const send = await cli(['send'], { OUTBOX_STORE: store, OUTBOX_DKIM: dkim })
    expect(send.code).toBe(2)
    expect(send.stderr).toMatch(
      /dkim\[0\]\.privateKey \(example\.com\) from inline PEM: a 512-bit RSA key/,
    )
    expect(send.stderr).not.toContain('BEGIN')

    const config = await cli(['config', '--json'], { OUTBOX_DKIM: dkim })
    expect(config.code).toBe(0)
    expect(config.stdout).not.toContain('BEGIN')
    const shown = JSON.parse(config.stdout) as { config: { dkim: unknown } }
    expect(shown.config.dkim).toEqual([
      { domain: 'example.com', selector: 's1', privateKey: '***' },
    ])
    const invalid = await cli(['config'], { OUTBOX_DKIM: `[${weak}` })
    expect(invalid.code).toBe(2)
    expect(invalid.stderr).toMatch(/OUTBOX_DKIM = "\*\*\*" from the environment/)
    expect(invalid.stderr).not.toContain('BEGIN')
  })

  it('dkim generate writes a 0600 key whose config entry signs mail that verifies with its record', async () => {
    cwd = mkdtempSync(join(tmpdir(), 'outbox-dkim-cli-'))
    const out = join(cwd, 'keys-s2.pem')
    const made = await cli([
      'dkim',
      'generate',
      '--domain',
      'Example.COM',
      '--selector',
      's2',
      '--out',
      out,
      '--json',
    ])
    expect(made).toMatchObject({ code: 0, stderr: '' })
    expect(statSync(out).mode & 0o777).toBe(0o600)
    const key = createPrivateKey(readFileSync(out))
    expect(key.asymmetricKeyType).toBe('rsa')
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048)
    const result = JSON.parse(made.stdout) as {
      file: string
      config: NonNullable<OutboxOptions['dkim']>[number]
      record: { name: string; value: string }
    }
    expect(result.config).toEqual({
      domain: 'example.com',
      selector: 's2',
      privateKey: `file:${out}`,
      algorithm: 'rsa-sha256',
    })
    expect(result.record.name).toBe('s2._domainkey.example.com')
    expect(result.record.value).toBe(dnsValue(readFileSync(out, 'utf8')))

    // The printed entry, as is, is a working configuration.
    const { outbox, sink } = await setup({ dkim: [result.config] })
    const { id } = await outbox.send({
      from: 'a@example.com',
      to: 'b@example.org',
      subject: 'New key',
      text: 'x',
    })
    const raw = await deliveredBytes(outbox, sink, id)
    expect(await verifyDkim(raw, { [result.record.name]: result.record.value })).toEqual([
      { domain: 'example.com', selector: 's2', algorithm: 'rsa-sha256', result: 'pass' },
    ])

    // People read the same, with the entry to paste and the record to publish.
    const ed = await cli([
      'dkim',
      'generate',
      '--domain',
      'ed.example',
      '--selector',
      'e1',
      '--algorithm',
      'ed25519-sha256',
      '--out',
      join(cwd, 'e1.pem'),
    ])
    expect(ed.code).toBe(0)
    expect(ed.stdout).toContain(
      `{"domain":"ed.example","selector":"e1","privateKey":"file:${join(cwd, 'e1.pem')}","algorithm":"ed25519-sha256"}`,
    )
    expect(ed.stdout).toContain(`value  ${dnsValue(readFileSync(join(cwd, 'e1.pem'), 'utf8'))}`)

    // An existing key is never overwritten; bad arguments are usage errors.
    const before = readFileSync(out)
    const again = await cli([
      'dkim',
      'generate',
      '--domain',
      'example.com',
      '--selector',
      's2',
      '--out',
      out,
    ])
    expect(again.code).toBe(2)
    expect(again.stderr).toMatch(/exists already; Outbox does not overwrite a key/)
    expect(readFileSync(out).equals(before)).toBe(true)
    const small = await cli([
      'dkim',
      'generate',
      '--domain',
      'example.com',
      '--selector',
      's3',
      '--bits',
      '512',
      '--out',
      join(cwd, 's3.pem'),
    ])
    expect(small.code).toBe(2)
    expect(small.stderr).toMatch(/--bits 512: expected a multiple of 8 from 1024 to 8192/)
    const missing = await cli([
      'dkim',
      'generate',
      '--domain',
      'example.com',
      '--out',
      join(cwd, 's4.pem'),
    ])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/--selector/)
  })
})
