import nodemailer from 'nodemailer'
import type { SendMailOptions } from 'nodemailer'
import { afterEach, describe, expect, it } from 'vitest'
import { createOutbox, InvalidMessageError, type Outbox, type SendOptions } from '../src/index.js'
import { createSmtpSink, type SmtpSink } from './helpers/smtp-sink.js'
import { tempSqliteUrl } from './helpers/temp.js'

let outbox: Outbox | null = null
let sink: SmtpSink | null = null
afterEach(async () => {
  await outbox?.close()
  await sink?.close()
})

describe('the Nodemailer transport', () => {
  it('makes existing sendMail() code queue, and the worker delivers the same bytes', async () => {
    sink = await createSmtpSink()
    outbox = await createOutbox({ store: tempSqliteUrl(), upstream: sink.url })
    const transporter = nodemailer.createTransport(outbox.transport())
    const info = (await transporter.sendMail({
      from: '"Shop" <shop@example.com>',
      to: 'a@example.com, b@example.org',
      bcc: 'audit@example.net',
      subject: 'Your order',
      text: 'Thanks',
      html: '<b>Thanks</b>',
    })) as { messageId: string; response: string; accepted: string[]; envelope: { to: string[] } }
    expect(info.response).toMatch(/^250 2\.0\.0 Ok: queued as [0-9a-z]{20}$/)
    expect(info.accepted.sort()).toEqual(['a@example.com', 'audit@example.net', 'b@example.org'])
    const id = info.response.split(' ').at(-1)!
    const detail = await outbox.admin.getMessage(id)
    expect(detail.status).toBe('queued')
    expect(detail.messageId).toBe(info.messageId)
    const stored = await outbox.admin.getRaw(id)
    expect(stored.toString()).not.toMatch(/^bcc:/im)

    await outbox.drain()
    expect(sink.messages).toHaveLength(1)
    expect(sink.messages[0]!.raw.equals(stored)).toBe(true)
    expect(sink.messages[0]!.messageId).toBe(info.messageId)
  })

  it('takes send options from an `outbox` field of the message', async () => {
    outbox = await createOutbox({ store: tempSqliteUrl() })
    const transporter = nodemailer.createTransport(outbox.transport())
    const message: SendMailOptions & { outbox: SendOptions } = {
      from: 'a@example.com',
      to: 'b@example.com',
      subject: 'opts',
      text: 'x',
      outbox: { priority: 'high', idempotencyKey: 'order-7', tags: ['receipt'] },
    }
    const first = (await transporter.sendMail(message)) as { response: string }
    const second = (await transporter.sendMail(message)) as { response: string }
    expect(second.response).toBe(first.response)
    const detail = await outbox.admin.getMessage(first.response.split(' ').at(-1)!)
    expect(detail).toMatchObject({ priority: 'high', idempotencyKey: 'order-7', tags: ['receipt'] })
    const badMessage = { ...message, outbox: { priority: 'asap' } }
    const bad = await transporter.sendMail(badMessage).catch((e: unknown) => e)
    expect(bad).toBeInstanceOf(InvalidMessageError)
  })

  it('rejects sendMail() for an invalid message and stores nothing', async () => {
    outbox = await createOutbox({ store: tempSqliteUrl() })
    const transporter = nodemailer.createTransport(outbox.transport())
    const error = await transporter
      .sendMail({ from: 'shop@example.com', subject: 'no one' })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InvalidMessageError)
    expect((await outbox.admin.countByStatus()).queued).toBe(0)
  })

  it('captures mail when no upstream is configured', async () => {
    outbox = await createOutbox({ store: tempSqliteUrl() })
    const transporter = nodemailer.createTransport(outbox.transport())
    const info = (await transporter.sendMail({
      from: 'a@example.com',
      to: 'b@example.com',
      subject: 'dev',
      text: 'x',
    })) as {
      response: string
    }
    await outbox.drain()
    const detail = await outbox.admin.getMessage(info.response.split(' ').at(-1)!)
    expect(detail).toMatchObject({ status: 'sent', captured: true })
    expect(detail.attemptLog[0]!.outcome).toBe('captured')
  })
})
