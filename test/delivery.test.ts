import { afterEach, describe, expect, it } from 'vitest'
import { createOutbox, type Outbox, type OutboxOptions } from '../src/index.js'
import { createSmtpSink, type SmtpSink } from './helpers/smtp-sink.js'
import { sleep, tempSqliteUrl, waitUntil } from './helpers/temp.js'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

async function setup(
  options: Partial<OutboxOptions> = {},
  sinkScript = {},
): Promise<{ outbox: Outbox; sink: SmtpSink; store: string }> {
  const sink = await createSmtpSink({ script: sinkScript })
  const store = tempSqliteUrl()
  const outbox = await createOutbox({
    store,
    upstream: sink.url,
    retry: { initialDelay: 100, maxDelay: 400 },
    ...options,
  })
  cleanups.push(
    () => sink.close(),
    () => outbox.close(),
  )
  return { outbox, sink, store }
}

describe('delivery to an SMTP upstream', () => {
  it('sends exactly the stored bytes, with Bcc in the envelope only', async () => {
    const { outbox, sink } = await setup()
    const { id, messageId } = await outbox.send({
      from: 'shop@example.com',
      to: ['a@example.com', 'b@example.org'],
      bcc: 'audit@example.net',
      subject: 'Receipt ✓',
      text: 'Thanks for your order.\n.\nA line with a lone dot above.',
      html: '<p>Thanks</p>',
      attachments: [{ filename: 'receipt.pdf', content: Buffer.alloc(100_000, 7) }],
    })
    const stored = await outbox.admin.getRaw(id)
    expect(stored.toString('latin1')).not.toMatch(/^bcc:/im)
    expect(stored.toString('latin1')).not.toContain('audit@example.net')
    const counts = await outbox.drain()
    expect(counts).toEqual({ sent: 1, failed: 0, deferred: 0 })
    expect(sink.messages).toHaveLength(1)
    const got = sink.messages[0]!
    expect(got.raw.equals(stored)).toBe(true)
    expect(got.messageId).toBe(messageId)
    expect(got.to.sort()).toEqual(['a@example.com', 'audit@example.net', 'b@example.org'])
    const detail = await outbox.admin.getMessage(id)
    expect(detail.status).toBe('sent')
    expect(detail.attemptLog).toHaveLength(1)
    expect(detail.attemptLog[0]!.recipients.every((r) => r.code === 250)).toBe(true)
  })

  it('settles each recipient on its own: 2xx sent, 5xx failed, 4xx retried alone', async () => {
    let greylist = true
    const { outbox, sink } = await setup(
      {},
      {
        rcpt: (address: string) =>
          address.startsWith('refused')
            ? { code: 550, message: 'No such user' }
            : address.startsWith('later') && greylist
              ? { code: 451 }
              : 'accept',
      },
    )
    const { id } = await outbox.send({
      from: 'shop@example.com',
      to: ['ok@example.com', 'refused@example.com', 'later@example.com'],
      subject: 'Three',
      text: 'x',
    })
    await outbox.drain()
    let detail = await outbox.admin.getMessage(id)
    expect(detail.status).toBe('deferred')
    expect(
      Object.fromEntries(detail.recipientStatus.map((r) => [r.address, [r.status, r.code]])),
    ).toEqual({
      'ok@example.com': ['sent', 250],
      'refused@example.com': ['failed', 550],
      'later@example.com': ['pending', 451],
    })
    expect(sink.messages.map((m) => m.to)).toEqual([['ok@example.com']])

    greylist = false
    const worker = outbox.worker()
    await worker.start()
    await sink.waitFor(2)
    await worker.stop()
    // The retry went to the pending recipient only.
    expect(sink.messages[1]!.to).toEqual(['later@example.com'])
    detail = await outbox.admin.getMessage(id)
    expect(detail.status).toBe('failed')
    expect(detail.reason).toBe('rejected')
    expect(detail.recipientStatus.find((r) => r.address === 'later@example.com')!.status).toBe(
      'sent',
    )
    expect(detail.attemptLog.map((a) => a.outcome)).toEqual(['partial', 'sent'])
  })

  it('retries a 4xx after DATA with backoff, then succeeds', async () => {
    let failures = 2
    const { outbox, sink } = await setup(
      {},
      {
        data: () => (failures-- > 0 ? { code: 452, message: 'Insufficient storage' } : 'accept'),
      },
    )
    const { id } = await outbox.send({
      from: 's@example.com',
      to: 'r@example.com',
      subject: 'retry',
      text: 'x',
    })
    const worker = outbox.worker()
    await worker.start()
    await sink.waitFor(1)
    await worker.stop()
    const detail = await outbox.admin.getMessage(id)
    expect(detail.status).toBe('sent')
    expect(detail.attempts).toBe(3)
    expect(detail.attemptLog.map((a) => a.outcome)).toEqual(['deferred', 'deferred', 'sent'])
    expect(detail.attemptLog[0]!.recipients[0]!.code).toBe(452)
    // Backoff: the second retry waited longer than the first (100 ms, then 200 ms, less jitter).
    const [a, b, c] = detail.attemptLog.map((x) => x.startedAt.getTime())
    expect(b! - a!).toBeGreaterThanOrEqual(75)
    expect(c! - b!).toBeGreaterThanOrEqual(150)
  })

  it('fails a 5xx at once and never retries it', async () => {
    const { outbox, sink } = await setup(
      {},
      { data: () => ({ code: 554, message: 'Spam detected' }) },
    )
    const { id } = await outbox.send({
      from: 's@example.com',
      to: 'r@example.com',
      subject: 'spam',
      text: 'x',
    })
    const worker = outbox.worker()
    await worker.start()
    await waitUntil(async () => (await outbox.admin.getMessage(id)).status === 'failed')
    await sleep(500)
    await worker.stop()
    expect(sink.transactions).toBe(1)
    const detail = await outbox.admin.getMessage(id)
    expect(detail.attempts).toBe(1)
    expect(detail.recipientStatus[0]).toMatchObject({ status: 'failed', code: 554 })
  })

  it('fails a message that keeps failing temporarily once it is older than maxAge, as expired', async () => {
    const { outbox } = await setup(
      { maxAge: 1000 },
      { rcpt: () => ({ code: 450, message: 'Mailbox busy' }) },
    )
    const { id } = await outbox.send({
      from: 's@example.com',
      to: 'r@example.com',
      subject: 'old',
      text: 'x',
    })
    const worker = outbox.worker()
    await worker.start()
    await waitUntil(
      async () => (await outbox.admin.getMessage(id)).status === 'failed',
      5000,
      'expiry',
    )
    await worker.stop()
    const detail = await outbox.admin.getMessage(id)
    expect(detail.reason).toBe('expired')
    expect(detail.attempts).toBeGreaterThan(1)
    expect(detail.recipientStatus[0]!.reply).toMatch(/expired/)
    expect(detail.attemptLog.at(-1)!.outcome).toBe('expired')
  })

  it('splits more than 100 recipients into transactions of at most 100', async () => {
    const { outbox, sink } = await setup()
    const to = Array.from({ length: 250 }, (_, i) => `user${i}@example.com`)
    const { id } = await outbox.send({ from: 's@example.com', to, subject: 'many', text: 'x' })
    await outbox.drain()
    expect(sink.messages.map((m) => m.to.length)).toEqual([100, 100, 50])
    expect(new Set(sink.messages.flatMap((m) => m.to)).size).toBe(250)
    expect((await outbox.admin.getMessage(id)).status).toBe('sent')
  })

  it('records a connection lost after the final dot as uncertain and retries it with the same Message-ID', async () => {
    let drops = 1
    const { outbox, sink } = await setup({}, { data: () => (drops-- > 0 ? 'drop' : 'accept') })
    const { id, messageId } = await outbox.send({
      from: 's@example.com',
      to: 'r@example.com',
      subject: 'u',
      text: 'x',
    })
    const worker = outbox.worker()
    await worker.start()
    await sink.waitFor(1)
    await worker.stop()
    const detail = await outbox.admin.getMessage(id)
    expect(detail.attemptLog.map((a) => a.outcome)).toEqual(['uncertain', 'sent'])
    expect(sink.transactions).toBe(2)
    expect(sink.messages[0]!.messageId).toBe(messageId)
  })

  it('holds a scheduled message until its sendAt, with no enqueue to wake the worker', async () => {
    const { outbox, sink } = await setup()
    const worker = outbox.worker()
    await worker.start()
    const sendAt = new Date(Date.now() + 1500)
    await outbox.send(
      { from: 's@example.com', to: 'r@example.com', subject: 'later', text: 'x' },
      { sendAt },
    )
    // Delivered by the worker's own timer (nothing else wakes it), and never early.
    await sink.waitFor(1, 10_000)
    await worker.stop()
    expect(sink.messages[0]!.receivedAt).toBeGreaterThanOrEqual(sendAt.getTime())
  })

  it('delivers by priority, then due time, then age', async () => {
    const { outbox, sink } = await setup()
    const mail = (subject: string) => ({
      from: 's@example.com',
      to: 'r@example.com',
      subject,
      text: 'x',
    })
    await outbox.send(mail('low'), { priority: 'low' })
    await outbox.send(mail('normal-1'))
    await outbox.send(mail('high'), { priority: 'high' })
    await outbox.send(mail('normal-2'), { priority: 'normal' })
    await outbox.drain({ concurrency: 1 })
    const subjects = sink.messages.map((m) =>
      /^subject: (.*)$/im.exec(m.raw.toString())![1]!.trim(),
    )
    expect(subjects).toEqual(['high', 'normal-1', 'normal-2', 'low'])
  })

  it('stores a message once per idempotency key', async () => {
    const { outbox, sink } = await setup()
    const mail = { from: 's@example.com', to: 'r@example.com', subject: 'receipt', text: 'x' }
    const first = await outbox.send(mail, { idempotencyKey: 'order-42-receipt' })
    const second = await outbox.send(mail, { idempotencyKey: 'order-42-receipt' })
    expect(second).toMatchObject({ id: first.id, messageId: first.messageId, duplicate: true })
    expect(first.duplicate).toBe(false)
    const [a, b] = await outbox.sendMany([
      { mail, options: { idempotencyKey: 'batch-key' } },
      { mail, options: { idempotencyKey: 'batch-key' } },
    ])
    expect(b!.id).toBe(a!.id)
    await outbox.drain()
    expect(sink.messages).toHaveLength(2)
    expect((await outbox.admin.countByStatus()).sent).toBe(2)
  })

  it('delivers a `now` message inside send(), and queues it when the upstream is down', async () => {
    const { outbox, sink } = await setup()
    const mail = { from: 's@example.com', to: 'r@example.com', subject: 'otp', text: '123456' }
    const result = await outbox.send(mail, { priority: 'now' })
    expect(result.status).toBe('sent')
    expect(sink.messages).toHaveLength(1)

    await sink.stop()
    const queued = await outbox.send(mail, { priority: 'now' })
    expect(queued.status).toBe('queued')
    const detail = await outbox.admin.getMessage(queued.id)
    expect(detail.status).toBe('queued')
    expect(detail.attempts).toBe(0)
  })

  it('wakes an idle worker as soon as a message is enqueued, also from another connection', async () => {
    const { outbox, sink, store } = await setup()
    const worker = outbox.worker()
    await worker.start()
    await sleep(200)
    await outbox.send({ from: 's@example.com', to: 'r@example.com', subject: 'wake', text: 'x' })
    // An idle worker with nothing due sleeps 60 s: only the wake-up can deliver this in time.
    await sink.waitFor(1, 5000)

    // A second Outbox on the same file is another SQLite connection, as another process would be.
    const app = await createOutbox({ store })
    cleanups.push(() => app.close())
    await sleep(200)
    await app.send({
      from: 's@example.com',
      to: 'r@example.com',
      subject: 'from elsewhere',
      text: 'x',
    })
    await sink.waitFor(2, 5000)
    await worker.stop()
  })
})
