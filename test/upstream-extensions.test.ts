import { afterEach, describe, expect, it } from 'vitest'
import { createOutbox, type Outbox } from '../src/index.js'
import { createSmtpSink, type SinkOptions, type SmtpSink } from './helpers/smtp-sink.js'
import { tempSqliteUrl } from './helpers/temp.js'

// What a message needs from the upstream, declared in MAIL FROM (against real smtp-server
// sinks, which report what was declared): BODY=8BITMIME for 8-bit data, SMTPUTF8 for a
// non-ASCII address, SIZE. An upstream that lacks what a message needs never gets it undeclared.

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

async function setup(options: SinkOptions = {}): Promise<{ outbox: Outbox; sink: SmtpSink }> {
  const sink = await createSmtpSink(options)
  const outbox = await createOutbox({ store: tempSqliteUrl(), upstream: sink.url })
  cleanups.push(
    () => sink.close(),
    () => outbox.close(),
  )
  return { outbox, sink }
}

const utf8 = Buffer.from(
  'From: s@example.com\r\nTo: r@example.com\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nÆrlig talt, ça marche. 日本語\r\n',
)
const ascii = Buffer.from(
  'From: s@example.com\r\nTo: r@example.com\r\nSubject: plain\r\n\r\nhello\r\n',
)

describe('MAIL FROM parameters to the upstream', () => {
  it('an 8-bit message goes with BODY=8BITMIME, a 7-bit one without; bytes unchanged', async () => {
    const { outbox, sink } = await setup()
    await outbox.sendRaw({ from: 's@example.com', to: ['r@example.com'], raw: utf8 })
    await outbox.sendRaw({ from: 's@example.com', to: ['r@example.com'], raw: ascii })
    await outbox.drain()
    const bySubject = (s: string) => sink.messages.find((m) => m.raw.toString().includes(s))!
    expect(bySubject('Gr=C3').bodyType).toBe('8bitmime')
    expect(bySubject('Subject: plain').bodyType).toBe('7bit')
    expect(bySubject('Gr=C3').raw.subarray(-utf8.length).equals(utf8)).toBe(true)
  })

  it('a non-ASCII address goes with SMTPUTF8', async () => {
    const { outbox, sink } = await setup()
    await outbox.sendRaw({ from: 'zoë@exämple.com', to: ['bjørn@exämple.org'], raw: utf8 })
    await outbox.drain()
    expect(sink.messages[0]).toMatchObject({
      from: 'zoë@exämple.com',
      to: ['bjørn@exämple.org'],
      smtpUtf8: true,
      bodyType: '8bitmime',
    })
  })

  it('to an upstream without 8BITMIME an 8-bit message is not sent, and the attempt says why', async () => {
    const { outbox, sink } = await setup({ hide8BITMIME: true })
    const eight = await outbox.sendRaw({ from: 's@example.com', to: ['r@example.com'], raw: utf8 })
    const seven = await outbox.sendRaw({ from: 's@example.com', to: ['r@example.com'], raw: ascii })
    await outbox.drain()
    expect(sink.transactions).toBe(1)
    expect(sink.messages.map((m) => m.raw.toString())).toEqual([
      expect.stringContaining('Subject: plain'),
    ])
    const detail = await outbox.admin.getMessage(eight.id)
    expect(detail.status).toBe('failed')
    expect(detail.attemptLog[0]!.recipients[0]!.reply).toMatch(
      /^5\.6\.3 Not sent: the message has 8-bit data and the upstream does not offer 8BITMIME/,
    )
    expect((await outbox.admin.getMessage(seven.id)).status).toBe('sent')
    expect(outbox.upstreamHealth().down).toBe(false)
  })

  it('to an upstream without SMTPUTF8 a non-ASCII address is not sent (5.6.7)', async () => {
    const { outbox, sink } = await setup({ hideSMTPUTF8: true })
    const { id } = await outbox.sendRaw({
      from: 's@example.com',
      to: ['bjørn@exämple.org'],
      raw: ascii,
    })
    await outbox.drain()
    expect(sink.transactions).toBe(0)
    const detail = await outbox.admin.getMessage(id)
    expect(detail.status).toBe('failed')
    expect(detail.attemptLog[0]!.recipients[0]!.reply).toMatch(/^5\.6\.7 Not sent: .*SMTPUTF8/)
  })

  it('declares SIZE, so an upstream refuses an oversized message before its data is sent', async () => {
    const { outbox, sink } = await setup({ size: 2048 })
    const { id } = await outbox.sendRaw({
      from: 's@example.com',
      to: ['r@example.com'],
      raw: Buffer.concat([ascii, Buffer.alloc(4096, 0x61), Buffer.from('\r\n')]),
    })
    await outbox.drain()
    expect(sink.transactions).toBe(0)
    const detail = await outbox.admin.getMessage(id)
    expect(detail.status).toBe('failed')
    expect(detail.attemptLog[0]!.error).toMatch(/size/i)
  })
})
