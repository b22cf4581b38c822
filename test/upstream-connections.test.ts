import { afterEach, describe, expect, it } from 'vitest'
import { createOutbox, type Outbox, type OutboxOptions } from '../src/index.js'
import { createSmtpSink, type SinkOptions, type SmtpSink } from './helpers/smtp-sink.js'
import { tempSqliteUrl, waitUntil } from './helpers/temp.js'

// How Outbox uses its connections to an upstream: as many as the upstream allows, and none
// for ever (against real smtp-server sinks).

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

async function setup(
  sinkOptions: SinkOptions,
  options: Partial<OutboxOptions> = {},
  upstreamQuery = '',
): Promise<{ outbox: Outbox; sink: SmtpSink }> {
  const sink = await createSmtpSink(sinkOptions)
  const outbox = await createOutbox({
    store: tempSqliteUrl(),
    upstream: `${sink.url}${upstreamQuery}`,
    ...options,
  })
  cleanups.push(
    () => sink.close(),
    () => outbox.close(),
  )
  return { outbox, sink }
}

const mails = (n: number, subject = 'm') =>
  Array.from({ length: n }, (_, i) => ({
    from: 's@example.com',
    to: `r${i}@example.com`,
    subject: `${subject} ${i}`,
    text: 'x',
  }))

/** Messages per connection, in the order the connections first delivered. */
function perConnection(sink: SmtpSink): number[] {
  const counts = new Map<string, number>()
  for (const m of sink.messages) counts.set(m.connection, (counts.get(m.connection) ?? 0) + 1)
  return [...counts.values()]
}

describe('connections to the upstream', () => {
  it(
    'an upstream that takes 2 connections gets 100 messages from a default Outbox within seconds, none deferred',
    { timeout: 60_000 },
    async () => {
      const { outbox, sink } = await setup({ maxClients: 2 })
      const sent = await outbox.sendMany(mails(100))
      const worker = outbox.worker() // concurrency 10: ten connections wanted, two allowed
      const started = Date.now()
      await worker.start()
      await sink.waitFor(100, 15_000)
      const took = Date.now() - started
      console.log(`100 messages through a 2-connection limit in ${(took / 1000).toFixed(1)} s`)
      await worker.stop()

      expect(outbox.upstreamHealth().down).toBe(false)
      expect(sink.peakConnections).toBeLessThanOrEqual(2)
      // The refused connections cost the messages nothing: one attempt each, sent.
      const details = await Promise.all(sent.map(({ id }) => outbox.admin.getMessage(id)))
      expect(details.filter((m) => m.status !== 'sent')).toEqual([])
      expect(details.flatMap((m) => m.attemptLog.map((a) => a.outcome))).toEqual(
        Array(100).fill('sent'),
      )
      expect(new Set(sink.messages.map((m) => m.messageId)).size).toBe(100)
    },
  )

  it('the learned limit is kept: later traffic opens no connection beyond it', async () => {
    const { outbox, sink } = await setup({ maxClients: 2 })
    const worker = outbox.worker()
    await worker.start()
    await outbox.sendMany(mails(30, 'first'))
    await sink.waitFor(30)
    const socketsBefore = sink.sockets
    expect(socketsBefore).toBeGreaterThan(2) // some were refused
    await outbox.sendMany(mails(30, 'second'))
    await sink.waitFor(60)
    await worker.stop()
    // No connection was even tried for the second batch: the two open ones carried it.
    expect(sink.sockets).toBe(socketsBefore)
  })

  it('a connection carries at most 100 messages by default, then a new one is opened', async () => {
    const { outbox, sink } = await setup({})
    await outbox.sendMany(mails(250))
    const worker = outbox.worker({ concurrency: 1 })
    await worker.start()
    await sink.waitFor(250, 30_000)
    await worker.stop()
    const counts = perConnection(sink)
    expect(Math.max(...counts)).toBeLessThanOrEqual(100)
    expect(counts.length).toBeGreaterThanOrEqual(3)
  })

  it('?maxMessages=N caps the messages per connection', async () => {
    const { outbox, sink } = await setup({}, {}, '?maxMessages=7')
    await outbox.sendMany(mails(30))
    await outbox.drain({ concurrency: 1 })
    await sink.waitFor(30)
    expect(Math.max(...perConnection(sink))).toBeLessThanOrEqual(7)
  })

  it('a connection older than upstreamConnection.maxAge is replaced under steady traffic', async () => {
    const { outbox, sink } = await setup({}, { upstreamConnection: { maxAge: '500ms' } })
    const worker = outbox.worker({ concurrency: 1 })
    await worker.start()
    // A message every 100 ms for 2.5 s: never idle, so only the age limit closes a connection.
    for (let i = 0; i < 25; i++) {
      await outbox.send(mails(1, `steady ${i}`)[0]!)
      await waitUntil(() => sink.messages.length > i, 10_000, `message ${i} delivered`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    await worker.stop()
    const firstAt = new Map<string, number>()
    const lastAt = new Map<string, number>()
    for (const m of sink.messages) {
      if (!firstAt.has(m.connection)) firstAt.set(m.connection, m.receivedAt)
      lastAt.set(m.connection, m.receivedAt)
    }
    expect(firstAt.size).toBeGreaterThanOrEqual(3)
    // A connection's last message starts within its maximum age (plus one send on a busy machine).
    for (const [connection, first] of firstAt) {
      expect(lastAt.get(connection)! - first).toBeLessThan(500 + 400)
    }
  })
})
