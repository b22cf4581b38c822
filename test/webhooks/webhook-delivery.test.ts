import { afterEach, describe, expect, it } from 'vitest'
import { createOutbox, verifyWebhook, type Outbox, type WebhookInput } from '../../src/index.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'
import { tempSqliteUrl, waitUntil } from '../helpers/temp.js'
import { createWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js'

// Webhooks end to end: a worker delivering to a real SMTP sink, and a real HTTP receiver
// getting the events of the log, signed, in order per message, at least once.

const SECRET = 'whsec_' + Buffer.from('a test secret of 32 bytes, ok!!!').toString('base64')

let outbox: Outbox | undefined
let sink: SmtpSink | undefined
let receiver: WebhookReceiver | undefined
afterEach(async () => {
  await outbox?.close()
  await sink?.close()
  await receiver?.close()
  outbox = sink = receiver = undefined
})

/** Every event the receiver got, once per position (a retry may bring one twice). */
function received(r: WebhookReceiver) {
  const bySeq = new Map<string, WebhookReceiver['requests'][number]['events'][number]>()
  let total = 0
  for (const request of r.requests) {
    if (request.status >= 300) continue
    for (const e of request.events) {
      total++
      bySeq.set(e.seq, e)
    }
  }
  return { events: [...bySeq.values()], duplicates: total - bySeq.size }
}

async function setup(
  webhook: Partial<WebhookInput>,
  script: Parameters<typeof createSmtpSink>[0] = {},
) {
  receiver = await createWebhookReceiver()
  sink = await createSmtpSink(script)
  outbox = await createOutbox({
    store: tempSqliteUrl(),
    upstream: sink.url,
    retry: { initialDelay: '100ms', maxDelay: '200ms', jitter: 0 },
    webhooks: [
      {
        url: receiver.url,
        events: ['queued', 'sent', 'failed', 'deferred'],
        secret: SECRET,
        ...webhook,
      },
    ],
  })
  return outbox
}

const mail = (to: string[]) => ({
  from: 'shop@example.com',
  to,
  subject: 'Receipt',
  text: 'Thanks',
})

describe('webhooks', () => {
  it('1,000 messages with mixed outcomes produce exactly their events, signed, in order per message', async () => {
    const deferredOnce = new Set<string>()
    const o = await setup(
      {},
      {
        script: {
          rcpt(address) {
            if (address.startsWith('bad')) return { code: 550, message: '5.7.1 Rejected by policy' }
            if (address.startsWith('later') && !deferredOnce.has(address)) {
              deferredOnce.add(address)
              return { code: 451, message: '4.3.0 Mailbox temporarily unavailable' }
            }
            return 'accept'
          },
        },
      },
    )
    // Four kinds: sent; failed; one sent and one failed; deferred once, then sent.
    const groups = (i: number) =>
      [
        [`ok${i}@example.net`],
        [`bad${i}@example.net`],
        [`ok${i}@example.net`, `bad${i}@example.net`],
        [`later${i}@example.net`],
      ][i % 4]!
    const expected = new Map<string, string[]>()
    for (let batch = 0; batch < 10; batch++) {
      const items = Array.from({ length: 100 }, (_, j) => mail(groups(batch * 100 + j)))
      const results = await o.sendMany(items)
      results.forEach((r, j) => {
        const to = groups(batch * 100 + j)
        const kind = (batch * 100 + j) % 4
        expected.set(
          r.id,
          kind === 3
            ? ['queued', 'deferred', `sent:${to[0]}`]
            : ['queued', ...to.map((a) => `${a.startsWith('bad') ? 'failed' : 'sent'}:${a}`)],
        )
      })
    }
    const total = [...expected.values()].reduce((n, t) => n + t.length, 0)
    expect(total).toBe(2500)
    const worker = o.worker()
    await worker.start()
    await waitUntil(
      () => received(receiver!).events.length >= total,
      120_000,
      `${total} events`,
    ).catch(async (error: unknown) => {
      const got = received(receiver!).events
      const byType = new Map<string, number>()
      for (const e of got) byType.set(e.type, (byType.get(e.type) ?? 0) + 1)
      console.log(
        'received',
        got.length,
        Object.fromEntries(byType),
        await o.admin.stats(),
        await o.admin.webhooks.list(),
      )
      throw error
    })
    await worker.stop()

    const { events, duplicates } = received(receiver!)
    expect(events).toHaveLength(total)
    expect(duplicates).toBe(0)
    // Per message: exactly its events, the queued one first and a deferral before the retry's
    // outcome (events of one attempt's recipients come in the store's order).
    const trails = new Map<string, string[]>()
    for (const e of events) {
      const trail = trails.get(e.id) ?? []
      trail.push(e.recipient ? `${e.type}:${e.recipient}` : e.type)
      trails.set(e.id, trail)
    }
    for (const [id, trail] of expected) {
      const got = trails.get(id) ?? []
      expect([...got].sort(), id).toEqual([...trail].sort())
      expect(got[0]).toBe('queued')
      if (trail[1] === 'deferred') expect(got[1]).toBe('deferred')
    }
    // Requests arrived in log order.
    const seqs = receiver!.requests.flatMap((r) => r.events.map((e) => Number(e.seq)))
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
    // Every request is signed as Standard Webhooks says, and a tampered body is refused.
    for (const request of receiver!.requests) {
      expect(verifyWebhook(SECRET, request.headers, request.body)).toBe(true)
      expect(String(request.headers['webhook-id'])).toMatch(/^msg_/)
    }
    const one = receiver!.requests[0]!
    expect(verifyWebhook(SECRET, one.headers, one.body.replace('queued', 'failed'))).toBe(false)
    const sent = events.find((e) => e.type === 'sent')!
    expect(sent.data).toMatchObject({ code: 250, upstream: 'default' })
    const failed = events.find((e) => e.type === 'failed')!
    expect(failed.data).toMatchObject({ code: 550 })
    // Batched: far fewer requests than events.
    expect(receiver!.requests.length).toBeLessThan(total / 5)
    const [status] = await o.admin.webhooks.list()
    expect(status).toMatchObject({ state: 'ok', backlog: 0, delivered: total, uncertain: 0 })
  }, 180_000)

  it('a receiver down for 10 s (connection refused) then up gets every event; duplicates at most the uncertain attempts', async () => {
    const o = await setup({ events: ['sent'] })
    await receiver!.stop()
    const ids = (
      await o.sendMany(Array.from({ length: 200 }, (_, i) => mail([`r${i}@example.net`])))
    ).map((r) => r.id)
    const worker = o.worker()
    await worker.start()
    await sink!.waitFor(200, 60_000)
    const downFor = Date.now()
    await waitUntil(
      async () => (await o.admin.webhooks.list())[0]!.state === 'failing',
      20_000,
      'failing',
    )
    // Every delivery's event is waiting (the last outcomes may still be committing).
    await waitUntil(
      async () => (await o.admin.webhooks.list())[0]!.backlog === 200,
      10_000,
      'backlog 200',
    )
    const failing = (await o.admin.webhooks.list())[0]!
    expect(failing.lastError).toMatch(/ECONNREFUSED/)
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, 10_000 - (Date.now() - downFor))),
    )
    await receiver!.restart()
    await waitUntil(
      () => received(receiver!).events.length >= 200,
      60_000,
      '200 events after the outage',
    )
    // The state is saved within half a second of a delivery.
    await waitUntil(async () => (await o.admin.webhooks.list())[0]!.backlog === 0, 10_000, 'saved')
    const status = (await o.admin.webhooks.list())[0]!
    await worker.stop()
    const { events, duplicates } = received(receiver!)
    expect(new Set(events.map((e) => e.id))).toEqual(new Set(ids))
    console.log(
      `outage: ${status.requests} requests, ${status.uncertain} uncertain, ${duplicates} duplicate events`,
    )
    // Refused connections are certain failures: nothing can have arrived twice.
    expect(status.uncertain).toBe(0)
    expect(duplicates).toBe(0)
    expect(status).toMatchObject({ state: 'ok', backlog: 0, delivered: 200 })
  }, 120_000)

  it('an answer that comes too late is uncertain: the batch is sent again with the same webhook-id', async () => {
    const o = await setup({ events: ['sent'], timeout: '300ms' })
    let first = true
    receiver!.answer = () => {
      if (!first) return { status: 204 }
      first = false
      return { status: 200, delayMs: 1500 }
    }
    await o.send(mail(['slow@example.net']))
    const worker = o.worker()
    await worker.start()
    await waitUntil(() => receiver!.requests.length >= 2, 30_000, 'the batch twice')
    await waitUntil(
      async () => (await o.admin.webhooks.list())[0]!.backlog === 0,
      10_000,
      'caught up',
    )
    const status = (await o.admin.webhooks.list())[0]!
    await worker.stop()
    const [late, retry] = receiver!.requests.sort((a, b) => a.receivedAt - b.receivedAt)
    expect(retry!.headers['webhook-id']).toBe(late!.headers['webhook-id'])
    expect(status.uncertain).toBe(1)
    expect(received(receiver!).duplicates).toBeLessThanOrEqual(status.uncertain)
  }, 60_000)

  it('a batch failing past retryFor is given up; `retry` sends it again', async () => {
    const o = await setup({ events: ['sent'], retryFor: '2s' })
    receiver!.answer = () => ({ status: 503 })
    await o.send(mail(['a@example.net', 'b@example.net']))
    const worker = o.worker()
    await worker.start()
    await waitUntil(
      async () => (await o.admin.webhooks.list())[0]!.state === 'gave-up',
      30_000,
      'gave up',
    )
    let status = (await o.admin.webhooks.list())[0]!
    expect(status.failed).toEqual({ batches: 1, events: 2 })
    expect(status.lastError).toMatch(/HTTP 503/)
    expect(status.backlog).toBe(2)
    receiver!.answer = () => ({ status: 200 })
    // Mail sent after the give-up goes out at once; the given-up batch waits for the retry.
    await o.send(mail(['c@example.net']))
    await waitUntil(() => received(receiver!).events.length === 1, 20_000, 'the new event')
    expect(await o.admin.webhooks.retry()).toBe(1)
    await waitUntil(() => received(receiver!).events.length === 3, 30_000, 'the retried events')
    // The state is saved within half a second of a delivery.
    await waitUntil(async () => (await o.admin.webhooks.list())[0]!.state === 'ok', 10_000, 'ok')
    status = (await o.admin.webhooks.list())[0]!
    expect(status).toMatchObject({
      state: 'ok',
      backlog: 0,
      failed: { batches: 0, events: 0 },
      retrying: 0,
    })
    await worker.stop()
    await expect(o.admin.webhooks.retry(['nope'])).rejects.toThrow(/No webhook is named `"nope"`/)
  }, 60_000)
})
