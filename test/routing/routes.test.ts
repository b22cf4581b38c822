import { afterEach, describe, expect, it } from 'vitest'
import { createOutbox, type Outbox } from '../../src/index.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'
import { tempSqliteUrl } from '../helpers/temp.js'

let sinks: Record<string, SmtpSink> = {}
let outbox: Outbox | null = null
afterEach(async () => {
  await outbox?.close()
  outbox = null
  await Promise.all(Object.values(sinks).map((s) => s.close()))
  sinks = {}
})

/** Who each sink received, as `recipient` strings. */
const got = (name: string): string[] => sinks[name]!.messages.flatMap((m) => m.to).sort()

describe('routes', () => {
  it('match by sender domain, recipient domain and tag, first match wins; the upstream send option overrides them', async () => {
    for (const name of ['shop', 'gmail', 'news', 'fallback']) sinks[name] = await createSmtpSink()
    outbox = await createOutbox({
      store: tempSqliteUrl(),
      upstream: sinks.fallback!.url,
      upstreams: {
        shop: sinks.shop!.url,
        gmail: { url: sinks.gmail!.url, maxConnections: 2 },
        news: sinks.news!.url,
      },
      routes: [
        { match: { from: '@Shop.Example' }, upstream: 'shop' },
        { match: { to: ['@gmail.example', 'vip@other.example'] }, upstream: 'gmail' },
        { match: { tag: 'newsletter' }, upstream: 'news' },
      ],
    })
    const results = await outbox.sendMany([
      // Sender domain: the first route, whatever the recipients or tags.
      {
        mail: { from: 'orders@shop.example', to: 'a@gmail.example', subject: '1', text: 'x' },
        options: { tags: ['newsletter'] },
      },
      // Recipient domain (in any case) and exact address; the third matches no route: split.
      {
        from: 'x@elsewhere.example',
        to: ['b@GMAIL.example', 'vip@other.example', 'c@other.example'],
        subject: '2',
        text: 'x',
      },
      // A tag.
      {
        mail: { from: 'x@elsewhere.example', to: 'd@other.example', subject: '3', text: 'x' },
        options: { tags: ['newsletter'] },
      },
      // Nothing matches: the default upstream.
      { from: 'x@elsewhere.example', to: 'e@other.example', subject: '4', text: 'x' },
      // The send option wins over a matching route.
      {
        mail: { from: 'orders@shop.example', to: 'f@other.example', subject: '5', text: 'x' },
        options: { upstream: 'news' },
      },
    ])
    await outbox.drain()
    expect(got('shop')).toEqual(['a@gmail.example'])
    expect(got('gmail')).toEqual(['b@gmail.example', 'vip@other.example'])
    expect(got('news')).toEqual(['d@other.example', 'f@other.example'])
    expect(got('fallback')).toEqual(['c@other.example', 'e@other.example'])
    const split = await outbox.admin.getMessage(results[1]!.id)
    expect(split.status).toBe('sent')
    expect(split.attemptLog).toHaveLength(1)
    expect(split.attemptLog[0]!.upstream!.split('+').sort()).toEqual(['default', 'gmail'])
    const chosen = await outbox.admin.getMessage(results[4]!.id)
    expect(chosen.upstream).toBe('news')
    expect(chosen.attemptLog[0]!.upstream).toBe('news')
  })

  it('a message naming an upstream that is down waits for it instead of going elsewhere', async () => {
    sinks.main = await createSmtpSink()
    sinks.other = await createSmtpSink()
    outbox = await createOutbox({
      store: tempSqliteUrl(),
      upstream: sinks.main.url,
      upstreams: { other: sinks.other.url },
      upstreamProbe: { initialDelay: '200ms' },
    })
    await sinks.other.stop()
    const [sent] = await outbox.sendMany([
      {
        mail: { from: 'a@example.com', to: 'b@example.com', subject: 's', text: 'x' },
        options: { upstream: 'other' },
      },
    ])
    await outbox.drain()
    const parked = await outbox.admin.getMessage(sent!.id)
    expect(parked.status).toBe('deferred')
    expect(parked.reason).toBe('upstream-down')
    expect(sinks.main.messages).toHaveLength(0)
    await sinks.other.restart()
    await outbox.worker().start()
    await sinks.other.waitFor(1, 10_000)
    expect(sinks.main.messages).toHaveLength(0)
  }, 20_000)
})
