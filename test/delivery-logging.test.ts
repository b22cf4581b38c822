import { afterEach, describe, expect, it } from 'vitest'
import { createOutbox, type Outbox, type OutboxOptions } from '../src/index.js'
import type { Logger } from '../src/logger.js'
import { createSmtpSink, type SinkScript, type SmtpSink } from './helpers/smtp-sink.js'
import { tempSqliteUrl, waitUntil } from './helpers/temp.js'

// Asymmetric matchers are typed `any`; inside object literals they need a type.
const matching = (pattern: RegExp): string => expect.stringMatching(pattern) as string
const anyNumber = expect.any(Number) as number
const anyString = expect.any(String) as string

// What an operator reads in the log at the default level (info), against a real smtp-server.

interface Line {
  level: 'debug' | 'info' | 'warn' | 'error'
  obj: Record<string, unknown>
  msg: string
}

function recordingLogger(): Logger & { lines: Line[] } {
  const lines: Line[] = []
  const at =
    (level: Line['level']) =>
    (obj: object, msg = '') =>
      lines.push({ level, obj: obj as Record<string, unknown>, msg })
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

async function setup(
  script: SinkScript,
  options: Partial<OutboxOptions> = {},
): Promise<{ outbox: Outbox; sink: SmtpSink; log: Line[] }> {
  const sink = await createSmtpSink({ script })
  const logger = recordingLogger()
  const outbox = await createOutbox({
    store: tempSqliteUrl(),
    upstream: sink.url,
    retry: { initialDelay: 60_000 },
    logger,
    ...options,
  })
  cleanups.push(
    () => sink.close(),
    () => outbox.close(),
  )
  return { outbox, sink, log: logger.lines }
}

const deliveries = (log: Line[]) => log.filter((l) => l.level === 'info' && 'status' in l.obj)

describe('the delivery log', () => {
  it('has one info line per attempt: queue id, Message-ID, upstream, each recipient with its reply, the delay', async () => {
    const { outbox, sink, log } = await setup({
      rcpt: (address) =>
        address.startsWith('gone')
          ? { code: 550, message: '5.1.1 Recipient address rejected: User unknown' }
          : address.startsWith('busy')
            ? { code: 450, message: '4.2.0 Recipient address rejected: try later' }
            : 'accept',
    })
    const ok = await outbox.send({
      from: 's@example.com',
      to: 'ok@example.com',
      subject: 'Secret plans',
      text: 'the body text',
    })
    const mixed = await outbox.send({
      from: 's@example.com',
      to: ['ok2@example.com', 'gone@example.com', 'busy@example.com'],
      subject: 'Secret plans',
      text: 'the body text',
    })
    const bounced = await outbox.send({
      from: 's@example.com',
      to: 'gone2@example.com',
      subject: 'x',
      text: 'y',
    })
    await outbox.drain()
    expect(sink.messages).toHaveLength(2)

    const lines = deliveries(log)
    expect(lines).toHaveLength(3)
    const byId = new Map(lines.map((l) => [l.obj.id, l]))
    expect(byId.get(ok.id)!.obj).toMatchObject({
      messageId: ok.messageId,
      upstream: sink.url,
      status: 'sent',
      recipients: [{ to: 'ok@example.com', status: 'sent', code: 250, reply: matching(/^250/) }],
      attempt: 1,
      delayMs: anyNumber,
    })
    expect(byId.get(ok.id)!.msg).toMatch(
      new RegExp(`^${ok.id}: status=sent to=<ok@example.com>: 250 `),
    )
    expect(byId.get(mixed.id)!.obj).toMatchObject({
      status: 'deferred',
      outcome: 'partial',
      recipients: [
        { to: 'ok2@example.com', status: 'sent', code: 250 },
        {
          to: 'gone@example.com',
          status: 'failed',
          code: 550,
          reply: matching(/User unknown/),
        },
        {
          to: 'busy@example.com',
          status: 'deferred',
          code: 450,
          reply: matching(/try later/),
        },
      ],
      nextAttemptAt: anyString,
    })
    expect(byId.get(bounced.id)!.obj).toMatchObject({ status: 'failed', reason: 'rejected' })
    expect(byId.get(bounced.id)!.msg).toMatch(/status=failed to=<gone2@example\.com>: 550 /)
    // Never the content.
    expect(JSON.stringify(log)).not.toMatch(/Secret plans|the body text/)
  })

  it('logs failed probes of a down upstream at info, with the reason and what to do, but not every probe; and how long it was down', async () => {
    const { outbox, sink, log } = await setup(
      {},
      { upstreamProbe: { initialDelay: 20, maxDelay: 40 } },
    )
    await sink.stop()
    await outbox.send({ from: 's@example.com', to: 'r@example.com', subject: 'x', text: 'y' })
    const worker = outbox.worker()
    await worker.start()
    const downAt = Date.now()
    await waitUntil(
      () => log.filter((l) => l.level === 'debug' && /probe failed/.test(l.msg)).length >= 20,
      20_000,
      'twenty failed probes',
    )
    const probeLines = log.filter((l) => l.level === 'info' && /still unreachable/.test(l.msg))
    expect(probeLines).toHaveLength(1)
    expect(probeLines[0]!.msg).toMatch(/ECONNREFUSED/)
    expect(probeLines[0]!.msg).toMatch(/Check that the upstream is running/)
    expect(probeLines[0]!.obj).toMatchObject({ upstream: sink.url, downForMs: anyNumber })

    await sink.restart()
    await sink.waitFor(1, 20_000)
    await worker.stop()
    const back = log.find((l) => /reachable again/.test(l.msg))!
    expect(back.level).toBe('info')
    // A duration in ms (not a count of probes), as long as the outage lasted.
    expect(back.obj.downForMs as number).toBeGreaterThanOrEqual(Date.now() - downAt - 20_000)
    expect(back.obj.downForMs as number).toBeGreaterThan(200)
    expect(back.msg).toMatch(/reachable again after \d/)
  })
})
