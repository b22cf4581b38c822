import { afterEach, describe, expect, it } from 'vitest'
import { createOutbox, type Outbox } from '../src/index.js'
import { createSmtpSink, type SmtpSink } from './helpers/smtp-sink.js'
import { tempSqliteUrl, waitUntil } from './helpers/temp.js'

let outbox: Outbox | null = null
let sink: SmtpSink | null = null
afterEach(async () => {
  await outbox?.close()
  await sink?.close()
})

describe('a restart after an upstream outage', () => {
  it('sends the messages the outage parked as soon as the restarted worker finds the upstream up', async () => {
    sink = await createSmtpSink()
    await sink.stop()
    const store = tempSqliteUrl()
    outbox = await createOutbox({ store, upstream: sink.url })
    const sent = await outbox.sendMany(
      Array.from({ length: 5 }, (_, i) => ({
        from: 's@example.com',
        to: `r${i}@example.com`,
        subject: `parked ${i}`,
        text: 'x',
      })),
    )
    const worker = outbox.worker({ concurrency: 5 })
    await worker.start()
    // Parked by the outage: deferred until a probe finds the upstream back, at most a minute.
    await waitUntil(
      async () => (await outbox!.admin.countByStatus()).deferred === 5,
      20_000,
      'all five parked',
    )
    const parked = await Promise.all(sent.map(({ id }) => outbox!.admin.getMessage(id)))
    expect(parked.every((m) => m.reason === 'upstream-down')).toBe(true)
    expect(Math.min(...parked.map((m) => m.dueAt!.getTime()))).toBeGreaterThan(Date.now() + 30_000)
    await outbox.close()

    // The upstream is back while Outbox is down; the new process has never seen it fail.
    await sink.restart()
    outbox = await createOutbox({ store, upstream: sink.url })
    const restartedAt = Date.now()
    await outbox.worker().start()
    await sink.waitFor(5, 20_000)
    expect(Date.now() - restartedAt).toBeLessThan(15_000)
  })
})
