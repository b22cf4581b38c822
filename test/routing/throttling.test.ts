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

describe('adaptive throttling', () => {
  it('halves the rate on "454 4.7.0 Throttling", delivers everything, and grows the rate back', async () => {
    let transactions = 0
    sink = await createSmtpSink({
      script: {
        // Every fifth message is refused as too fast, as SES does past its send rate.
        data: () =>
          ++transactions % 5 === 0
            ? { code: 454, message: '4.7.0 Throttling failure: Maximum sending rate exceeded.' }
            : 'accept',
      },
    })
    const total = 60
    outbox = await createOutbox({
      store: tempSqliteUrl(),
      upstreams: { ses: { url: sink.url, rateLimit: '20/s' } },
      routes: [{ upstream: 'ses' }],
      // A throttled message must not wait for the backoff: it would show as a 30 s+ run.
      retry: { initialDelay: '30s' },
    })
    await outbox.sendMany(
      Array.from({ length: total }, (_, i) => ({
        from: 'shop@example.com',
        to: `r${i}@example.com`,
        subject: `t${i}`,
        text: 'x',
      })),
    )
    const rates: number[] = []
    const started = Date.now()
    await outbox.worker().start()
    await waitUntil(
      async () => {
        const ses = (await outbox!.admin.upstreams()).upstreams.find((u) => u.name === 'ses')!
        if (ses.currentRatePerSec !== null) rates.push(ses.currentRatePerSec)
        return sink!.messages.length >= total
      },
      25_000,
      'every message accepted',
    )
    const seconds = (Date.now() - started) / 1000
    const lowest = Math.min(...rates)
    console.log(
      `${total} messages in ${seconds.toFixed(1)} s with every 5th throttled; rate went as low as ${lowest.toFixed(1)}/s of 20/s`,
    )
    expect(lowest).toBeLessThanOrEqual(10)
    expect(new Set(sink.messages.flatMap((m) => m.to)).size).toBe(total)
    await waitUntil(
      async () => (await outbox!.admin.countByStatus()).sent === total,
      10_000,
      'all recorded as sent',
    )
    const counts = await outbox.admin.countByStatus()
    expect(counts.failed).toBe(0)
    // Throttled attempts were recorded as such, and cost no backoff step.
    const list = await outbox.admin.list({}, { limit: 100 })
    const retried = list.messages.filter((m) => m.attempts > 1)
    expect(retried.length).toBeGreaterThan(0)
    const detail = await outbox.admin.getMessage(retried[0]!.id)
    expect(detail.attemptLog[0]!.outcome).toBe('deferred')
    expect(detail.attemptLog[0]!.recipients[0]!.reply).toMatch(/454.*Throttling/)
    expect(detail.attemptLog[0]!.upstream).toBe('ses')
    // Mail accepted again raises the rate back toward the configured one.
    const last = (await outbox.admin.upstreams()).upstreams.find((u) => u.name === 'ses')!
    expect(last.currentRatePerSec!).toBeGreaterThan(lowest)
    expect(last.throttledAt).not.toBeNull()
  }, 40_000)

  it('limits an upstream with no rate of its own once it asks to slow down, and still delivers everything', async () => {
    let transactions = 0
    sink = await createSmtpSink({
      script: {
        // A burst of "slow down" over its first 50 transactions, then it takes everything.
        data: () =>
          ++transactions % 5 === 0 && transactions <= 50
            ? { code: 421, message: '4.7.0 Try again later, closing connection (rate)' }
            : 'accept',
      },
    })
    const total = 150
    outbox = await createOutbox({ store: tempSqliteUrl(), upstream: sink.url })
    await outbox.sendMany(
      Array.from({ length: total }, (_, i) => ({
        from: 'shop@example.com',
        to: `r${i}@example.com`,
        subject: `u${i}`,
        text: 'x',
      })),
    )
    await outbox.worker().start()
    const seen: { learned: number | null } = { learned: null }
    await waitUntil(
      async () => {
        const up = (await outbox!.admin.upstreams()).upstreams.find((u) => u.name === 'default')!
        seen.learned ??= up.currentRatePerSec
        return sink!.messages.length >= total
      },
      // The learned rate is what this process was sending at when first asked to slow down:
      // on a loaded machine (CI runs many files at once) it is low, and so is the recovery.
      90_000,
      'every message accepted',
    )
    console.log(
      `unlimited upstream throttled in its first 50 messages: held to ${seen.learned?.toFixed(1)}/s`,
    )
    // A rate appeared where none was configured: the workers hold the upstream to it.
    expect(seen.learned).not.toBeNull()
    const up = (await outbox.admin.upstreams()).upstreams.find((u) => u.name === 'default')!
    expect(up.configuredRatePerSec).toBeNull()
    expect(up.throttledAt).not.toBeNull()
    expect(new Set(sink.messages.flatMap((m) => m.to)).size).toBe(total)
    await waitUntil(
      async () => (await outbox!.admin.countByStatus()).sent === total,
      10_000,
      'all recorded as sent',
    )
    // The 421s were throttling, not an outage: the upstream was never taken for down.
    expect(outbox.upstreamHealth().down).toBe(false)
  }, 120_000)
})
