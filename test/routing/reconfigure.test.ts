import { afterEach, describe, expect, it } from 'vitest'
import { ConfigError, createOutbox, type Outbox } from '../../src/index.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'
import { tempSqliteUrl, waitUntil } from '../helpers/temp.js'

/** outbox.reconfigure(): what SIGHUP applies, on a running worker, a real store and real sinks. */

const sinks: SmtpSink[] = []
let outbox: Outbox | null = null
afterEach(async () => {
  await outbox?.close()
  outbox = null
  await Promise.all(sinks.splice(0).map((s) => s.close()))
})

async function sink(script?: Parameters<typeof createSmtpSink>[0]): Promise<SmtpSink> {
  const created = await createSmtpSink(script)
  sinks.push(created)
  return created
}
const mail = (to: string, subject: string) => ({ from: 'shop@example.com', to, subject, text: 'x' })

/** Waits until the message was given back for a rate-limited turn far ahead. */
async function waitForLaterTurn(o: Outbox, id: string): Promise<void> {
  await waitUntil(
    async () => {
      const m = await o.admin.getMessage(id)
      return (
        m.status === 'queued' &&
        m.leaseOwner === null &&
        m.dueAt !== null &&
        m.dueAt.getTime() > Date.now() + 30 * 60_000
      )
    },
    20_000,
    `message ${id} given back until its turn`,
  )
}

describe('outbox.reconfigure()', () => {
  it('changes a rate limit for the next message; the shared bucket keeps its state', async () => {
    const a = await sink()
    outbox = await createOutbox({ store: tempSqliteUrl(), upstream: a.url, rateLimit: '1/h' })
    await outbox.worker().start()
    await outbox.send(mail('one@example.com', 'first'))
    await a.waitFor(1, 20_000)

    // The same bucket key (`upstream:default`): its token was taken, and stays taken.
    expect(outbox.reconfigure({ rateLimit: '2/h' })).toEqual({
      changed: ['rateLimit 1/h→2/h'],
      needsRestart: [],
    })
    const second = await outbox.send(mail('two@example.com', 'second'))
    await waitForLaterTurn(outbox, second.id)
    expect(a.messages).toHaveLength(1)

    // No limit at all: the next message goes at once (the one given back keeps its turn).
    expect(outbox.reconfigure({ rateLimit: null }).changed).toEqual(['rateLimit 2/h→none'])
    await outbox.send(mail('three@example.com', 'third'))
    await a.waitFor(2, 20_000)
    expect(a.messages.map((m) => m.to[0])).toEqual(['one@example.com', 'three@example.com'])
  })

  it('refuses a bad update whole, naming every problem, and changes nothing', async () => {
    const [a, b] = [await sink(), await sink()]
    outbox = await createOutbox({
      store: tempSqliteUrl(),
      upstream: a.url,
      upstreams: { b: b.url },
      domainLimits: { 'example.net': '5/s' },
    })
    const before = await outbox.admin.upstreams()
    let error: unknown
    try {
      outbox.reconfigure({
        rateLimit: 'fast',
        routes: [{ match: { to: '@example.org' }, upstream: 'nosuch' }],
        domainLimits: { 'example.net': '10/s', 'not a domain': '1/s' },
      })
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).problems).toEqual([
      'rateLimit = "fast": expected a rate such as 14/s, 100/m or 20000/h',
      'routes[0].upstream = "nosuch": no such upstream (known: default, b)',
      'domainLimits.not a domain: not a domain name',
    ])
    expect(await outbox.admin.upstreams()).toEqual(before)

    // Upstreams are not made or dropped while running: a route to a new one is refused.
    expect(() =>
      outbox!.reconfigure({
        upstreams: { b: b.url, c: b.url },
        routes: [{ match: { to: '@example.org' }, upstream: 'b', fallback: ['c'] }],
      }),
    ).toThrow(
      'routes[0].fallback[0] = "c": no upstream of that name is running (running: default, b); adding an upstream needs a restart',
    )
    // A changed definition is named, and the running upstream kept (its limit still applies).
    expect(
      outbox.reconfigure({ upstreams: { b: { url: a.url, rateLimit: '7/s' }, d: a.url } }),
    ).toEqual({
      changed: ['upstreams.b.rateLimit none→7/s'],
      needsRestart: ['upstreams.b.url', 'upstreams.d (added)'],
    })
    // A removed one keeps running, with its limit, until the restart.
    expect(outbox.reconfigure({ upstreams: {} })).toEqual({
      changed: [],
      needsRestart: ['upstreams.b (removed)'],
    })
    expect((await outbox.admin.upstreams()).upstreams.map((u) => [u.name, u.rateLimit])).toEqual([
      ['default', null],
      ['b', '7/s'],
    ])
  })

  it('new routes apply to the next message; one in flight finishes where it started', async () => {
    // Sink A answers the final dot late, so the first message is in flight while routes change.
    const a = await sink({ script: { data: () => ({ delayMs: 1500, then: 'accept' }) } })
    const b = await sink()
    outbox = await createOutbox({
      store: tempSqliteUrl(),
      upstream: a.url,
      upstreams: { b: b.url },
    })
    await outbox.worker().start()
    const first = await outbox.send(mail('x@example.org', 'in flight'))
    await waitUntil(() => a.transactions === 1, 20_000, 'the first message at the final dot')

    expect(
      outbox.reconfigure({ routes: [{ match: { to: '@example.org' }, upstream: 'b' }] }),
    ).toEqual({ changed: ['routes'], needsRestart: [] })
    await outbox.send(mail('y@example.org', 'routed'))
    await b.waitFor(1, 20_000)
    await a.waitFor(1, 20_000)
    await waitUntil(
      async () => (await outbox!.admin.getMessage(first.id)).status === 'sent',
      20_000,
      'the first message recorded as sent',
    )
    expect(a.messages.map((m) => m.to[0])).toEqual(['x@example.org'])
    expect(b.messages.map((m) => m.to[0])).toEqual(['y@example.org'])
  })
})
