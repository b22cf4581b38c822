import { describe, expect, it } from 'vitest'
import { bounceFixture, type BounceFixtureValues } from '../../test/helpers/bounce-fixtures.js'
import { isBadAddressReply } from '../delivery/bad-address.js'
import { parseBounceReport, type BounceReport } from './bounce-report.js'

const values: BounceFixtureValues = {
  returnPath: 'bounces+01jgqz3k8m5v7w9x2y4z-0123456789abcdef@bounces.example.com',
  recipient: 'nobody@dest.test',
  messageId: '<1736849470123.abc@outbox.example.com>',
}

async function parse(name: Parameters<typeof bounceFixture>[0]): Promise<BounceReport | null> {
  return parseBounceReport(bounceFixture(name, values))
}

function dsn(report: BounceReport | null) {
  if (report?.kind !== 'dsn') throw new Error(`expected a DSN, got ${JSON.stringify(report)}`)
  return report
}

describe('parseBounceReport on the fixtures', () => {
  it('reads a DSN written by Postfix (captured from the private Postfix of the tests)', async () => {
    const report = dsn(await parse('postfix-failed'))
    expect(report).toEqual({
      kind: 'dsn',
      recipients: [
        {
          address: values.recipient,
          originalAddress: values.recipient,
          action: 'failed',
          status: '5.1.1',
          code: 550,
          reply: `550 5.1.1 <${values.recipient}>: Recipient address rejected: User unknown in virtual mailbox table`,
          remoteMta: '127.0.0.1',
        },
      ],
      originalMessageId: values.messageId,
      originalMailFrom: values.returnPath,
    })
    const [recipient] = report.recipients
    expect(isBadAddressReply(recipient!.code, recipient!.reply)).toBe(true)
  })

  it("reads Postfix's delay warning", async () => {
    const report = dsn(await parse('postfix-delayed'))
    expect(report.recipients).toEqual([
      {
        address: values.recipient,
        originalAddress: values.recipient,
        action: 'delayed',
        status: '4.2.0',
        code: 451,
        reply: '451 4.2.0 Mailbox temporarily unavailable, try again later',
        remoteMta: '127.0.0.1',
      },
    ])
    expect(report.originalMessageId).toBe(values.messageId)
    expect(report.originalMailFrom).toBe(values.returnPath)
  })

  it("reads Gmail's DSN: folded multi-line reply, commented Remote-MTA, whole original returned", async () => {
    const report = dsn(await parse('gmail-failed'))
    expect(report.recipients).toHaveLength(1)
    const [recipient] = report.recipients
    expect(recipient).toMatchObject({
      address: values.recipient,
      originalAddress: null,
      action: 'failed',
      status: '5.1.1',
      code: 550,
      remoteMta: 'gmail-smtp-in.l.google.com',
    })
    expect(recipient!.reply).toMatch(
      /^550-5\.1\.1 The email account that you tried to reach does not exist\. Please try 550-5\.1\.1 double-checking/,
    )
    expect(recipient!.reply).toMatch(/- gsmtp$/)
    expect(isBadAddressReply(recipient!.code, recipient!.reply)).toBe(true)
    expect(report.originalMessageId).toBe(values.messageId)
    expect(report.originalMailFrom).toBe(values.returnPath)
  })

  it("reads Exim's DSN, whose Status (5.0.0) is vaguer than its reply", async () => {
    const report = dsn(await parse('exim-failed'))
    expect(report.recipients).toEqual([
      {
        address: values.recipient,
        originalAddress: null,
        action: 'failed',
        status: '5.0.0',
        code: 550,
        reply: `550 5.1.1 <${values.recipient}>: Recipient address rejected: User unknown in local recipient table`,
        remoteMta: 'mx.dest.test',
      },
    ])
    expect(isBadAddressReply(550, report.recipients[0]!.reply)).toBe(true)
    expect(report.originalMessageId).toBe(values.messageId)
    expect(report.originalMailFrom).toBe(values.returnPath)
  })

  it("reads Sendmail's DSN with one failed and one delivered recipient", async () => {
    const report = dsn(await parse('sendmail-two-recipients'))
    expect(report.recipients).toEqual([
      {
        address: values.recipient,
        originalAddress: null,
        action: 'failed',
        status: '5.1.1',
        code: 550,
        reply: `550 5.1.1 <${values.recipient}>... User unknown`,
        remoteMta: 'mx.dest.test',
      },
      {
        address: 'carol@dest.test',
        originalAddress: null,
        action: 'delivered',
        status: '2.0.0',
        code: 250,
        reply: '250 2.0.0 50E9BC1b012346 Message accepted for delivery',
        remoteMta: 'mx.dest.test',
      },
    ])
    expect(report.originalMessageId).toBe(values.messageId)
    expect(report.originalMailFrom).toBe(values.returnPath)
  })

  it("reads an ARF abuse report (RFC 5965's example)", async () => {
    expect(await parse('arf-abuse')).toEqual({
      kind: 'arf',
      feedbackType: 'abuse',
      originalMailFrom: values.returnPath,
      originalRcptTo: [values.recipient],
      originalMessageId: values.messageId,
      reply: 'abuse report from mail.example.com (SomeGenerator/1.0)',
    })
  })

  it('is null for an auto-reply', async () => {
    expect(await parse('auto-reply')).toBeNull()
  })
})

describe('parseBounceReport on variants', () => {
  const postfix = bounceFixture('postfix-failed', values).toString('utf8')
  const statusPart = /(Content-Type: message\/delivery-status\r\n\r\n)([\s\S]*?)(\r\n--)/

  it('reads a base64-encoded delivery-status part', async () => {
    const raw = postfix.replace(statusPart, (_all, _head: string, body: string, tail: string) => {
      const encoded = Buffer.from(body).toString('base64').replace(/.{76}/g, '$&\r\n')
      return `Content-Type: message/delivery-status\r\nContent-Transfer-Encoding: base64\r\n\r\n${encoded}${tail}`
    })
    expect(raw).not.toContain('Final-Recipient')
    expect(dsn(await parseBounceReport(Buffer.from(raw))).recipients[0]).toMatchObject({
      address: values.recipient,
      code: 550,
    })
  })

  it('reads an 8-bit UTF-8 reply and a UTF-8 recipient', async () => {
    const raw = postfix
      .replaceAll(values.recipient, 'jürgen@dest.test')
      .replace('User unknown in virtual mailbox table', 'Benutzer unbekannt – User unknown')
    const [recipient] = dsn(await parseBounceReport(Buffer.from(raw, 'utf8'))).recipients
    expect(recipient!.address).toBe('jürgen@dest.test')
    expect(recipient!.reply).toMatch(/Benutzer unbekannt – User unknown$/)
  })

  it('reads a report-type in any case, and LF line endings', async () => {
    const raw = postfix
      .replace(
        'multipart/report; report-type=delivery-status',
        'Multipart/Report; Report-Type="Delivery-Status"',
      )
      .replace('Content-Type: message/delivery-status', 'Content-Type: Message/Delivery-Status')
      .replaceAll('\r\n', '\n')
    expect(dsn(await parseBounceReport(Buffer.from(raw))).recipients).toHaveLength(1)
  })

  it('reads the delivery-status fields from a text/plain part of a delivery-status report', async () => {
    const raw = postfix.replace('Content-Type: message/delivery-status', 'Content-Type: text/plain')
    const report = dsn(await parseBounceReport(Buffer.from(raw)))
    expect(report.recipients[0]).toMatchObject({
      address: values.recipient,
      action: 'failed',
      code: 550,
    })
    expect(report.originalMessageId).toBe(values.messageId)
  })

  it('falls back to the Status text without a Diagnostic-Code, and to X-Postfix-Sender without headers', async () => {
    const raw = postfix
      .replace(/Diagnostic-Code:.*\r\n(?:[ \t].*\r\n)*/, '')
      .replace(/Return-Path: .*\r\n/, '')
    const report = dsn(await parseBounceReport(Buffer.from(raw)))
    expect(report.recipients[0]).toMatchObject({ status: '5.1.1', code: null, reply: '5.1.1' })
    expect(report.originalMailFrom).toBe(values.returnPath)
  })

  it('is null for a delivery-status part without recipients, and for a read receipt', async () => {
    const noRecipients = postfix.replace(/Final-Recipient:.*\r\n/, '')
    expect(await parseBounceReport(Buffer.from(noRecipients))).toBeNull()
    const mdn = [
      'From: ann@dest.test',
      'To: shop@example.com',
      'Subject: Read: Your receipt',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=disposition-notification; boundary="b"',
      '',
      '--b',
      'Content-Type: text/plain',
      '',
      'Your message was displayed.',
      '--b',
      'Content-Type: message/disposition-notification',
      '',
      'Final-Recipient: rfc822; ann@dest.test',
      `Original-Message-ID: ${values.messageId}`,
      'Disposition: manual-action/MDN-sent-manually; displayed',
      '--b--',
      '',
    ].join('\r\n')
    expect(await parseBounceReport(Buffer.from(mdn))).toBeNull()
  })

  it('is null for a reply that quotes a bounce', async () => {
    const quoted = `From: ann@dest.test\r\nTo: shop@example.com\r\nSubject: Re: bounce\r\n\r\nLook:\r\n\r\nFinal-Recipient: rfc822; x@y\r\nAction: failed\r\nStatus: 5.1.1\r\n`
    expect(await parseBounceReport(Buffer.from(quoted))).toBeNull()
  })

  it.each([
    ['empty', Buffer.alloc(0)],
    ['binary noise', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256))],
    ['a truncated report', Buffer.from(postfix.slice(0, 700))],
    [
      'an unterminated multipart',
      Buffer.from('Content-Type: multipart/report; boundary=x\r\n\r\n--x\r\n'),
    ],
    ['headers only', Buffer.from('Subject: hi\r\n')],
  ])('is null, never throws, for %s', async (_name, raw) => {
    await expect(parseBounceReport(raw)).resolves.toBeNull()
  })
})
