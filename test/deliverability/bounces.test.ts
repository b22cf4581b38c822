import nodemailer from 'nodemailer'
import { afterEach, describe, expect, it } from 'vitest'
import { createOutbox, type Outbox } from '../../src/index.js'
import { startSmtpListener, type SmtpListener } from '../../src/ingress/smtp-listener.js'
import { silentLogger } from '../../src/logger.js'
import { bounceFixture } from '../helpers/bounce-fixtures.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'
import { tempSqliteUrl, waitUntil } from '../helpers/temp.js'

// Bounces that come back after the upstream said 250: Outbox sends each recipient with its own
// signed bounce address (VERP), and the SMTP listener takes reports for the bounce domain from
// any network, over real SMTP, while staying closed to relaying for everything else.

const BOUNCES = { domain: 'bounces.example.com', secret: 'a-secret-of-some-length' }
// A client outside the allowed networks: the listener allows only 127.0.0.1.
const OUTSIDE = '127.0.0.2'

let outbox: Outbox | undefined
let sink: SmtpSink | undefined
let listener: SmtpListener | undefined
afterEach(async () => {
  await listener?.close()
  await outbox?.close()
  await sink?.close()
  outbox = sink = listener = undefined
})

async function setup() {
  sink = await createSmtpSink()
  outbox = await createOutbox({ store: tempSqliteUrl(), upstream: sink.url, bounces: BOUNCES })
  listener = await startSmtpListener(outbox, {
    listen: '127.0.0.1:0',
    allowNetworks: ['127.0.0.1/32'],
    maxMessageSize: 1024 * 1024,
    logger: silentLogger,
  })
  const port = Number(listener.addresses[0]!.split(':').pop())
  // Reports arrive from anywhere: this client connects from 127.0.0.2.
  const client = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    ignoreTLS: true,
    localAddress: OUTSIDE,
  })
  return { o: outbox, client, port }
}

/** Sends a message to two recipients and returns it with the envelope sender each got. */
async function sendAndDeliver(o: Outbox) {
  const sent = await o.send({
    from: 'shop@example.com',
    to: ['ann@example.net', 'bob@example.net'],
    subject: 'Your receipt',
    text: 'Thanks',
  })
  await o.drain()
  await sink!.waitFor(2)
  const senderOf = (to: string) => sink!.messages.find((m) => m.to.includes(to))!.from
  return { sent, ann: senderOf('ann@example.net'), bob: senderOf('bob@example.net') }
}

const recipient = async (o: Outbox, id: string, address: string) =>
  (await o.admin.getMessage(id)).recipientStatus.find((r) => r.address === address)!

describe('bounce tracking', () => {
  it('sends each recipient with its own signed bounce address', async () => {
    const { o } = await setup()
    const { sent, ann, bob } = await sendAndDeliver(o)
    expect(ann).toMatch(new RegExp(`^bounces\\+${sent.id}-[0-9a-z]{16}@bounces\\.example\\.com$`))
    expect(bob).toMatch(/^bounces\+/)
    expect(ann).not.toBe(bob)
    expect(ann.split('@')[0]!.length).toBeLessThanOrEqual(64)
    // The bytes are the same for both: only the envelope differs.
    expect(sink!.messages[0]!.raw.equals(sink!.messages[1]!.raw)).toBe(true)
  })

  it('a real DSN submitted over SMTP marks the right recipient bounced and suppresses it', async () => {
    const { o, client } = await setup()
    const { sent, ann } = await sendAndDeliver(o)
    const dsn = bounceFixture('postfix-failed', {
      returnPath: ann,
      recipient: 'ann@example.net',
      messageId: sent.messageId,
    })
    const info = await client.sendMail({ envelope: { from: '', to: [ann] }, raw: dsn })
    expect(info.response).toMatch(/^250 .*report recorded/)
    expect(await recipient(o, sent.id, 'ann@example.net')).toMatchObject({ status: 'bounced' })
    expect((await recipient(o, sent.id, 'ann@example.net')).reply).toMatch(/5\.1\.1/)
    expect(await recipient(o, sent.id, 'bob@example.net')).toMatchObject({ status: 'sent' })
    expect((await o.admin.getMessage(sent.id)).status).toBe('sent')
    const list = await o.admin.suppressions.list({})
    expect(list.entries.map((e) => [e.address, e.reason, e.messageId])).toEqual([
      ['ann@example.net', 'bounced', sent.id],
    ])
    // So the next mail to Ann fails at once.
    const next = await o.send({ from: 'shop@example.com', to: 'ann@example.net', text: 'x' })
    expect(next.status).toBe('failed')
  })

  it('an ARF complaint to the plain bounce mailbox marks the recipient it names complained', async () => {
    const { o, client } = await setup()
    const { sent, bob } = await sendAndDeliver(o)
    const arf = bounceFixture('arf-abuse', {
      returnPath: bob,
      recipient: 'bob@example.net',
      messageId: sent.messageId,
    })
    await client.sendMail({ envelope: { from: '', to: ['bounces@bounces.example.com'] }, raw: arf })
    await waitUntil(
      async () => (await recipient(o, sent.id, 'bob@example.net')).status === 'complained',
      10_000,
    )
    expect((await recipient(o, sent.id, 'bob@example.net')).reply).toMatch(/abuse/)
    expect(await recipient(o, sent.id, 'ann@example.net')).toMatchObject({ status: 'sent' })
    expect((await o.admin.suppressions.list({})).entries[0]).toMatchObject({
      address: 'bob@example.net',
      reason: 'complained',
    })
  })

  it('a delayed DSN and an auto-reply are accepted and change nothing', async () => {
    const { o, client } = await setup()
    const { sent, ann } = await sendAndDeliver(o)
    for (const name of ['postfix-delayed', 'auto-reply'] as const) {
      const raw = bounceFixture(name, {
        returnPath: ann,
        recipient: 'ann@example.net',
        messageId: sent.messageId,
      })
      const info = await client.sendMail({ envelope: { from: '', to: [ann] }, raw })
      expect(info.response).toMatch(/^250 .*nothing recorded/)
    }
    expect(await recipient(o, sent.id, 'ann@example.net')).toMatchObject({ status: 'sent' })
    expect((await o.admin.suppressions.list({})).total).toBe(0)
  })

  it('a forged token is refused and records nothing', async () => {
    const { o, client } = await setup()
    const { sent, ann, bob } = await sendAndDeliver(o)
    const forged = ann.replace(/-[0-9a-z]{16}@/, '-0000000000000000@')
    // Bob's token used for Ann's address: a valid token only for the recipient it was made for.
    const dsn = bounceFixture('postfix-failed', {
      returnPath: forged,
      recipient: 'ann@example.net',
      messageId: sent.messageId,
    })
    await expect(
      client.sendMail({ envelope: { from: '', to: [forged] }, raw: dsn }),
    ).rejects.toMatchObject({ responseCode: 550 })
    // A made-up message id, with a well-formed token.
    const unknown = bob.replace(sent.id, '0'.repeat(20))
    await expect(
      client.sendMail({ envelope: { from: '', to: [unknown] }, raw: dsn }),
    ).rejects.toMatchObject({ responseCode: 550 })
    expect(await recipient(o, sent.id, 'ann@example.net')).toMatchObject({ status: 'sent' })
    expect((await o.admin.suppressions.list({})).total).toBe(0)
  })

  it('mail for any other domain from outside the allowed networks is still refused (530)', async () => {
    const { o, client, port } = await setup()
    await expect(
      client.sendMail({
        envelope: { from: 'spammer@example.org', to: ['victim@example.net'] },
        raw: 'Subject: relay?\r\n\r\nhello\r\n',
      }),
    ).rejects.toMatchObject({ responseCode: 530 })
    // A bounce address and another address in one transaction: the other is refused.
    const { ann } = await sendAndDeliver(o)
    const mixed = await client.sendMail({
      envelope: { from: '', to: [ann, 'victim@example.net'] },
      raw: 'Subject: x\r\n\r\nx\r\n',
    })
    expect(mixed.accepted).toEqual([ann])
    expect(mixed.rejected).toEqual(['victim@example.net'])
    expect(mixed.rejectedErrors?.[0]).toMatchObject({ responseCode: 530 })
    // The allowed network still queues mail as before.
    const inside = nodemailer.createTransport({ host: '127.0.0.1', port, ignoreTLS: true })
    const info = await inside.sendMail({
      envelope: { from: 'app@example.com', to: ['someone@example.net'] },
      raw: 'Subject: hi\r\n\r\nhi\r\n',
    })
    expect(info.response).toMatch(/queued as/)
    expect((await o.admin.countByStatus()).queued).toBe(1)
  })
})
