import { SMTPServer } from 'smtp-server'
import { afterEach, describe, expect, it } from 'vitest'
import { createOutbox, type Outbox, type OutboxOptions } from '../src/index.js'
import { createSmtpSink, type SinkScript, type SmtpSink } from './helpers/smtp-sink.js'
import { tempSqliteUrl, waitUntil } from './helpers/temp.js'

// How Outbox reads what an upstream answers at each stage, against a real smtp-server. Its
// 421 closes the connection, as RFC 5321 says it must.

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

async function setup(
  script: SinkScript,
  options: Partial<OutboxOptions> = {},
): Promise<{ outbox: Outbox; sink: SmtpSink }> {
  const sink = await createSmtpSink({ script })
  const outbox = await createOutbox({
    store: tempSqliteUrl(),
    upstream: sink.url,
    retry: { initialDelay: 150, maxDelay: 5000 },
    ...options,
  })
  cleanups.push(
    () => sink.close(),
    () => outbox.close(),
  )
  return { outbox, sink }
}

const mail = (subject: string, to = 'r@example.com') => ({
  from: 's@example.com',
  to,
  subject,
  text: 'x',
})

const subjectOf = (raw: Buffer) => /^subject: (.*)$/im.exec(raw.toString('latin1'))?.[1]?.trim()

describe('replies of the upstream', () => {
  it(
    'a 421 after DATA defers that message with a growing backoff, and the rest of the queue flows',
    { timeout: 60_000 },
    async () => {
      const { outbox, sink } = await setup({
        data: (_envelope, raw) =>
          subjectOf(raw) === 'refused'
            ? { code: 421, message: '4.3.2 Service not available, closing channel' }
            : 'accept',
      })
      const { id } = await outbox.send(mail('refused'))
      const others = await outbox.sendMany(Array.from({ length: 5 }, (_, i) => mail(`ok ${i}`)))
      const worker = outbox.worker({ concurrency: 2 })
      await worker.start()
      await waitUntil(
        async () => (await outbox.admin.getMessage(id)).attempts >= 4,
        30_000,
        'four attempts of the refused message',
      )
      await worker.stop()
      await sink.waitFor(5)

      const detail = await outbox.admin.getMessage(id)
      // A temporary failure of this message, not an outage: counted, backed off, queue not paused.
      expect(detail.status).toBe('deferred')
      expect(detail.reason).toBe('temporary-failure')
      expect(new Set(detail.attemptLog.map((a) => a.outcome))).toEqual(new Set(['deferred']))
      expect(detail.attemptLog.every((a) => a.recipients[0]!.code === 421)).toBe(true)
      // 150 ms, 300 ms, 600 ms, each shortened by at most 20 % of jitter.
      const starts = detail.attemptLog.map((a) => a.startedAt.getTime())
      for (let k = 1; k < 4; k++) {
        expect(starts[k]! - starts[k - 1]!).toBeGreaterThanOrEqual(150 * 2 ** (k - 1) * 0.8 - 5)
      }
      expect(outbox.upstreamHealth().down).toBe(false)
      for (const { id: other } of others) {
        expect((await outbox.admin.getMessage(other)).attemptLog.map((a) => a.outcome)).toEqual([
          'sent',
        ])
      }
    },
  )

  it('a 421 at RCPT, the server then closing, defers the message: nothing was sent, so not uncertain', async () => {
    let refusals = 1
    const { outbox, sink } = await setup({
      rcpt: () =>
        refusals-- > 0 ? { code: 421, message: '4.7.0 Too many connections' } : 'accept',
    })
    const { id } = await outbox.send(mail('rcpt 421'))
    const worker = outbox.worker()
    await worker.start()
    await sink.waitFor(1)
    await worker.stop()
    const detail = await outbox.admin.getMessage(id)
    expect(detail.attemptLog.map((a) => a.outcome)).toEqual(['deferred', 'sent'])
    expect(detail.attemptLog[0]!.recipients[0]!.code).toBe(421)
    expect(sink.transactions).toBe(1)
  })

  it('a connection dropped at RCPT is an outage (the probe decides), not uncertain', async () => {
    let drops = 1
    const { outbox, sink } = await setup(
      { rcpt: () => (drops-- > 0 ? 'drop' : 'accept') },
      { upstreamProbe: { initialDelay: 100, maxDelay: 200 } },
    )
    const { id } = await outbox.send(mail('rcpt drop'))
    const worker = outbox.worker()
    await worker.start()
    await sink.waitFor(1)
    await worker.stop()
    const detail = await outbox.admin.getMessage(id)
    expect(detail.attemptLog.map((a) => a.outcome)).toEqual(['upstream-down', 'sent'])
  })

  it('a connection dropped in the middle of the body is not uncertain: the final dot never went out', async () => {
    let drops = 1
    let received = 0
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      disableReverseLookup: true,
      logger: false,
      size: 50 * 1024 * 1024,
      onData(stream, session, callback) {
        if (drops-- > 0) {
          // The first chunk of the body is in: cut the connection before the rest and the dot.
          stream.once('data', () => {
            for (const c of server.connections) if (c.id === session.id) c._socket.destroy()
          })
          stream.resume()
          return
        }
        stream.resume()
        stream.on('end', () => {
          received++
          callback()
        })
      },
    })
    server.on('error', () => {})
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const port = (server.server.address() as { port: number }).port
    const outbox = await createOutbox({
      store: tempSqliteUrl(),
      upstream: `smtp://127.0.0.1:${port}`,
      upstreamProbe: { initialDelay: 100, maxDelay: 200 },
    })
    cleanups.push(() => outbox.close())
    const { id } = await outbox.send({
      ...mail('big'),
      attachments: [{ filename: 'big.bin', content: Buffer.alloc(4 * 1024 * 1024, 7) }],
    })
    const worker = outbox.worker()
    await worker.start()
    await waitUntil(() => received === 1, 20_000, 'the second attempt delivered')
    await worker.stop()
    const detail = await outbox.admin.getMessage(id)
    expect(detail.attemptLog.map((a) => a.outcome)).toEqual(['upstream-down', 'sent'])
  })

  it(
    'a 421 from several messages in a row pauses delivery until the upstream takes mail again',
    { timeout: 60_000 },
    async () => {
      let refusing = true
      const { outbox, sink } = await setup(
        { rcpt: () => (refusing ? { code: 421, message: '4.3.2 Shutting down' } : 'accept') },
        { upstreamProbe: { initialDelay: 200, maxDelay: 500 } },
      )
      const sent = await outbox.sendMany(Array.from({ length: 6 }, (_, i) => mail(`m${i}`)))
      const worker = outbox.worker({ concurrency: 1 })
      await worker.start()
      await waitUntil(() => outbox.upstreamHealth().down, 20_000, 'the upstream found down')
      expect(outbox.upstreamHealth().lastError).toMatch(/in a row were refused with 421/)
      refusing = false
      await sink.waitFor(6, 30_000)
      await worker.stop()
      // Only the first three were tried before the pause; each of them was deferred once.
      const tried = await Promise.all(sent.map(({ id }) => outbox.admin.getMessage(id)))
      const refused = tried.filter((m) => m.attemptLog[0]!.outcome === 'deferred')
      expect(refused).toHaveLength(3)
      expect(tried.every((m) => m.status === 'sent')).toBe(true)
    },
  )
})
