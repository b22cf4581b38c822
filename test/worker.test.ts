import Database from 'better-sqlite3'
import type { Transport } from 'nodemailer'
import { afterEach, describe, expect, it } from 'vitest'
import { createOutbox, type Outbox } from '../src/index.js'
import { createSmtpSink, type SmtpSink } from './helpers/smtp-sink.js'
import { sleep, tempSqlitePath, waitUntil } from './helpers/temp.js'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

async function sink(script = {}): Promise<SmtpSink> {
  const s = await createSmtpSink({ script })
  cleanups.push(() => s.close())
  return s
}

async function outboxOn(
  path: string,
  options: Parameters<typeof createOutbox>[0] = {},
): Promise<Outbox> {
  const o = await createOutbox({ store: `sqlite:${path}`, ...options })
  cleanups.push(() => o.close())
  return o
}

const mail = (i: number) => ({
  from: 's@example.com',
  to: `r${i}@example.com`,
  subject: `m${i}`,
  text: 'x',
})

describe('worker lifecycle', () => {
  it('stop() lets sends in progress finish and gives back claimed, unstarted messages at once', async () => {
    const upstream = await sink({ data: () => ({ delayMs: 800 }) })
    const outbox = await outboxOn(tempSqlitePath(), { upstream: upstream.url })
    await outbox.sendMany(Array.from({ length: 10 }, (_, i) => mail(i)))
    const worker = outbox.worker({ concurrency: 2 })
    await worker.start()
    await waitUntil(() => upstream.transactions === 2, 5000, 'two sends in progress')
    const stopped = Date.now()
    await worker.stop()
    // Waited for the two in-flight sends (800 ms delay), not for any lease to expire.
    expect(Date.now() - stopped).toBeLessThan(5000)
    expect(upstream.messages).toHaveLength(2)
    const counts = await outbox.admin.countByStatus()
    expect(counts).toMatchObject({ sent: 2, queued: 8, sending: 0 })
  })

  it('stop() gives up on a send after stopTimeoutMs and releases its message', async () => {
    const upstream = await sink({ data: () => ({ delayMs: 3000 }) })
    const outbox = await outboxOn(tempSqlitePath(), { upstream: upstream.url })
    const { id } = await outbox.send(mail(1))
    const worker = outbox.worker({ concurrency: 1, stopTimeoutMs: 300 })
    await worker.start()
    await waitUntil(() => upstream.transactions === 1, 5000, 'send in progress')
    await worker.stop()
    const detail = await outbox.admin.getMessage(id)
    expect(detail.leaseOwner).toBeNull()
    expect(detail.status).toBe('queued')
  })

  it('renews leases during a slow send, so another worker never takes the message', async () => {
    const upstream = await sink({ data: () => ({ delayMs: 2500 }) })
    const path = tempSqlitePath()
    const options = { upstream: upstream.url, leaseDuration: 600 }
    const a = await outboxOn(path, options)
    const b = await outboxOn(path, options)
    const { id } = await a.send(mail(1))
    const wa = a.worker({ concurrency: 1 })
    await wa.start()
    await waitUntil(() => upstream.transactions === 1, 5000, 'first send started')
    const wb = b.worker({ concurrency: 1 })
    await wb.start()
    await waitUntil(
      async () => (await a.admin.getMessage(id)).status === 'sent',
      10_000,
      'delivery',
    )
    await sleep(800)
    await Promise.all([wa.stop(), wb.stop()])
    expect(upstream.transactions).toBe(1)
    const detail = await a.admin.getMessage(id)
    expect(detail.attempts).toBe(1)
    expect(detail.attemptLog[0]!.durationMs).toBeGreaterThanOrEqual(2400)
  })
})

describe('poison messages never stall the queue', () => {
  it('fails a message whose stored bytes are damaged and delivers the rest', async () => {
    const upstream = await sink()
    const path = tempSqlitePath()
    const outbox = await outboxOn(path, { upstream: upstream.url })
    const results = await outbox.sendMany(Array.from({ length: 5 }, (_, i) => mail(i)))
    const damaged = results[2]!.id
    const db = new Database(path)
    db.prepare('DELETE FROM message_bodies WHERE id = ?').run(damaged)
    db.close()
    const counts = await outbox.drain()
    expect(counts).toEqual({ sent: 4, failed: 1, deferred: 0 })
    const detail = await outbox.admin.getMessage(damaged)
    expect(detail.status).toBe('failed')
    expect(detail.reason).toMatch(/damaged: the stored message bytes are missing/)
    expect(upstream.messages).toHaveLength(4)
  })

  it('defers a message whose transport throws, records why, and carries on', async () => {
    const delivered: string[] = []
    const transport: Transport = {
      name: 'flaky',
      version: '1',
      send(m, callback) {
        const envelope = m.message.getEnvelope()
        if (envelope.to.includes('r2@example.com'))
          throw new Error('transport exploded on this one')
        delivered.push(...envelope.to)
        callback(null, { envelope, messageId: m.message.messageId() })
      },
    }
    const outbox = await outboxOn(tempSqlitePath(), { upstream: transport })
    const results = await outbox.sendMany(Array.from({ length: 4 }, (_, i) => mail(i)))
    const counts = await outbox.drain()
    expect(counts).toEqual({ sent: 3, failed: 0, deferred: 1 })
    expect(delivered.sort()).toEqual(['r0@example.com', 'r1@example.com', 'r3@example.com'])
    const detail = await outbox.admin.getMessage(results[2]!.id)
    expect(detail.status).toBe('deferred')
    expect(detail.lastError).toMatch(/transport exploded/)
    expect(detail.attemptLog[0]!.outcome).toBe('deferred')
    expect(detail.attemptLog[0]!.error).toMatch(/transport exploded/)
  })
})

describe('rate limit', () => {
  it('paces sends to the configured rate, after an initial burst', async () => {
    const upstream = await sink()
    const outbox = await outboxOn(tempSqlitePath(), { upstream: upstream.url, rateLimit: '10/s' })
    await outbox.sendMany(Array.from({ length: 25 }, (_, i) => mail(i)))
    const started = Date.now()
    await outbox.drain()
    expect(upstream.messages).toHaveLength(25)
    // 10 at once, then one every 100 ms: the last of the 15 others cannot arrive before 1.5 s.
    expect(upstream.messages.at(-1)!.receivedAt - started).toBeGreaterThanOrEqual(1400)
  })
})
