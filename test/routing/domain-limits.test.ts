import { afterEach, describe, expect, it } from 'vitest'
import { createOutbox, type Outbox } from '../../src/index.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'
import { tempSqliteUrl, waitUntil } from '../helpers/temp.js'

let sink: SmtpSink | null = null
let outbox: Outbox | null = null
afterEach(async () => {
  await outbox?.close()
  outbox = null
  await sink?.close()
  sink = null
})

const mail = (to: string | string[], i: number) => ({
  from: 'shop@example.com',
  to,
  subject: `m${i}`,
  text: 'x',
})

describe('a per-domain rate limit', () => {
  it('holds slow.example to 5/s while an unlimited domain goes out at once', async () => {
    sink = await createSmtpSink()
    outbox = await createOutbox({
      store: tempSqliteUrl(),
      upstream: sink.url,
      domainLimits: { 'Slow.Example': '5/s' },
    })
    // Interleaved, and the limited domain first: a queue that waited in line would send the
    // fast domain's mail only as the slow one's turns come.
    await outbox.sendMany(
      Array.from({ length: 60 }, (_, i) =>
        mail(i % 2 === 0 ? `s${i}@slow.example` : `f${i}@fast.example`, i),
      ),
    )
    const started = Date.now()
    await outbox.worker().start()
    const fast = () => sink!.messages.filter((m) => m.to[0]!.endsWith('@fast.example'))
    const slow = () => sink!.messages.filter((m) => m.to[0]!.endsWith('@slow.example'))
    await waitUntil(() => fast().length === 30, 10_000, 'the fast domain’s 30 messages')
    const fastDoneMs = Date.now() - started
    const slowByThen = slow().length
    console.log(
      `fast.example: 30 messages in ${fastDoneMs} ms; slow.example had ${slowByThen} of 30 by then`,
    )
    // 30 at 5/s is 5 s after the first second's five: the fast ones do not wait for them.
    expect(fastDoneMs).toBeLessThan(2500)
    expect(slowByThen).toBeLessThan(20)
    await waitUntil(() => slow().length === 30, 20_000, 'the slow domain’s 30 messages')
    // Never faster than 5/s after the first second's burst of 5: 30 take at least 5 s.
    const times = slow().map((m) => m.receivedAt)
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(4500)
    for (let i = 15; i < times.length; i++) {
      // After the burst, any 10 in a row span at least 1.8 s (5/s, with a little timer slack).
      expect(times[i]! - times[i - 10]!).toBeGreaterThanOrEqual(1800)
    }
    // The sink has them all; their outcomes are recorded a moment later.
    await waitUntil(
      async () => (await outbox!.admin.countByStatus()).sent === 60,
      10_000,
      'all 60 recorded as sent',
    )
    // Held back for its turn costs no attempt.
    const list = await outbox.admin.list({ to: '@slow.example' }, { limit: 100 })
    for (const m of list.messages) expect(m.attempts).toBe(1)
  }, 40_000)

  it('splits a message whose recipients span limited domains, one transaction per domain', async () => {
    sink = await createSmtpSink()
    outbox = await createOutbox({
      store: tempSqliteUrl(),
      upstream: sink.url,
      domainLimits: { 'a.example': '100/s', 'b.example': '100/s' },
    })
    const [sent] = await outbox.sendMany([
      mail(['x@a.example', 'y@b.example', 'z@c.example', 'w@a.example'], 0),
    ])
    await outbox.drain()
    const groups = sink.messages.map((m) => [...m.to].sort().join(',')).sort()
    expect(groups).toEqual(['w@a.example,x@a.example', 'y@b.example', 'z@c.example'])
    const detail = await outbox.admin.getMessage(sent!.id)
    expect(detail.status).toBe('sent')
    expect(detail.recipientStatus.every((r) => r.status === 'sent')).toBe(true)
  })
})
