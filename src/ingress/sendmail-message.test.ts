import { describe, expect, it } from 'vitest'
import { prepareSendmailMessage, type SendmailRequest } from './sendmail-message.js'

const request = (overrides: Partial<SendmailRequest> = {}): SendmailRequest => ({
  fromHeaders: false,
  sender: null,
  recipients: ['x@example.com'],
  localSender: 'www-data@host.example',
  now: new Date('2026-12-01T10:00:00Z'),
  ...overrides,
})
const DATE = 'Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n'
const prepare = (input: string, overrides?: Partial<SendmailRequest>) => {
  const message = prepareSendmailMessage(Buffer.from(input, 'utf8'), request(overrides))
  return { ...message, raw: message.raw.toString('utf8') }
}

describe('prepareSendmailMessage', () => {
  it('input without a header block is all body, after From and Date', () => {
    expect(prepare('hello body\nSubject: no\n', { sender: 'app@example.com' }).raw).toBe(
      `From: app@example.com\r\n${DATE}\r\nhello body\nSubject: no\n`,
    )
  })

  it('adds a missing blank line where the body starts', () => {
    expect(prepare('Subject: s\nhello body\n').raw).toBe(
      `Subject: s\nFrom: www-data@host.example\r\n${DATE}\r\nhello body\n`,
    )
  })

  it('leaves a complete message alone', () => {
    const input =
      'From: A <a@example.com>\nDate: Mon, 30 Nov 2026 08:00:00 +0000\nSubject: s\n\nbody\n'
    expect(prepare(input)).toEqual({ from: 'a@example.com', to: ['x@example.com'], raw: input })
  })

  it('a message of headers only, without a final line break', () => {
    expect(prepare('Subject: s').raw).toBe(`Subject: s\r\nFrom: www-data@host.example\r\n${DATE}`)
  })

  it('drops a leading mbox From line, keeps a From header with a blank before its colon', () => {
    expect(prepare('From app@example.com Mon Dec  1 10:00:00 2026\nSubject: s\n\nx\n').raw).toMatch(
      /^Subject: s\nFrom: www-data@host\.example\r\n/,
    )
    expect(prepare(`From : a@example.com\n${DATE}\nx\n`).from).toBe('a@example.com')
  })

  it('-t: every To, Cc and Bcc header, UTF-8 addresses included; Bcc headers removed', () => {
    const message = prepare(
      'To: a@example.com\nTo: "B, b" <b@example.com>, c@example.com\nCc: d@exämple.org\n' +
        'Bcc: e@example.com,\n f@example.com\nBCC: g@example.com\nSubject: s\n\nTo: body@example.com\n',
      { fromHeaders: true, recipients: ['a@example.com'] },
    )
    expect(message.to).toEqual([
      'a@example.com',
      'b@example.com',
      'c@example.com',
      'd@exämple.org',
      'e@example.com',
      'f@example.com',
      'g@example.com',
    ])
    expect(message.raw).not.toMatch(/bcc/i)
    expect(message.raw).toMatch(/\nSubject: s\nFrom: www-data@host\.example\r\n/)
  })

  it('-f <> is the null sender; the From header then names the local user', () => {
    const message = prepare('Subject: s\n\nx\n', { sender: '<>' })
    expect(message.from).toBe('')
    expect(message.raw).toMatch(/^Subject: s\nFrom: www-data@host\.example\r\n/)
  })
})
