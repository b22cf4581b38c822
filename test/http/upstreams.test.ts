import { afterEach, describe, expect, it } from 'vitest'
import { createOutbox, startHttpServer, type HttpServer, type Outbox } from '../../src/index.js'
import type { RoutingOverview, UpstreamOverview } from '../../src/admin/upstream-overview.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'
import { tempSqliteUrl, waitUntil } from '../helpers/temp.js'

const TOKEN = 'upstreams-test-token-0123456789'
const auth = { authorization: `Bearer ${TOKEN}` }

/**
 * The operator's view of routing over HTTP, against real SMTP sinks and a running worker:
 * `GET /api/upstreams` (what the dashboard's Upstreams panel shows) and the per-upstream
 * Prometheus series, while both upstreams work and after one of them goes away.
 */
describe('GET /api/upstreams and the upstream metrics', () => {
  let primary: SmtpSink | undefined
  let bulk: SmtpSink | undefined
  let outbox: Outbox | undefined
  let server: HttpServer | undefined
  /** A second process's view: the dashboard alone, without a worker, on the same store. */
  let viewer: { outbox: Outbox; server: HttpServer } | undefined

  afterEach(async () => {
    await viewer?.server.close()
    await viewer?.outbox.close()
    await server?.close()
    await outbox?.close()
    await primary?.close()
    await bulk?.close()
    server = outbox = primary = bulk = viewer = undefined
  })

  /** Two named upstreams: `primary` for the shop's mail, `bulk` (50/s) for @bulk.example. */
  async function start(): Promise<{ outbox: Outbox; server: HttpServer; storeUrl: string }> {
    primary = await createSmtpSink()
    bulk = await createSmtpSink()
    const storeUrl = tempSqliteUrl()
    outbox = await createOutbox(options(storeUrl))
    await outbox.worker().start()
    server = await startHttpServer(outbox, {
      listen: '127.0.0.1:0',
      adminToken: TOKEN,
      workerInProcess: true,
    })
    return { outbox, server, storeUrl }
  }

  function options(store: string): Parameters<typeof createOutbox>[0] {
    return {
      store,
      upstreams: {
        primary: { url: primary!.url, maxConnections: 3 },
        bulk: { url: bulk!.url, rateLimit: '50/s', maxConnections: 2 },
      },
      routes: [
        { match: { to: '@bulk.example' }, upstream: 'bulk' },
        { match: { from: '@shop.example' }, upstream: 'primary' },
      ],
      domainLimits: { 'slow.example': '5/s' },
      // A stopped sink is probed again quickly, so that its return is seen within the test.
      upstreamProbe: { initialDelay: '100ms', maxDelay: '500ms' },
    }
  }

  async function get(path: string, from: HttpServer = server!): Promise<Response> {
    const res = await fetch(`${from.url}${path}`, { headers: auth })
    expect(res.status, `GET ${path}`).toBe(200)
    return res
  }
  const overview = async (): Promise<RoutingOverview> =>
    (await (await get('/api/upstreams')).json()) as RoutingOverview
  const upstream = async (name: string): Promise<UpstreamOverview> => {
    const found = (await overview()).upstreams.find((u) => u.name === name)
    expect(found, `upstream ${name} in /api/upstreams`).toBeDefined()
    return found!
  }
  const metrics = async (from?: HttpServer): Promise<string> => (await get('/metrics', from)).text()

  const toBulk = (n: number) => ({
    from: 'news@shop.example',
    to: `reader${n}@bulk.example`,
    subject: `Bulk ${n}`,
    text: 'Newsletter',
  })
  const toPrimary = (n: number, domain = 'example.com') => ({
    from: 'orders@shop.example',
    to: `customer${n}@${domain}`,
    subject: `Order ${n}`,
    text: 'Receipt',
  })

  it('lists both upstreams up, with their rate, connections, last-hour counts, and the domain limits', async () => {
    const { outbox } = await start()
    // Before any mail: the worker has reported both, with nothing sent.
    await waitUntil(
      async () => (await overview()).upstreams.filter((u) => u.state === 'up').length === 3,
      10_000,
      'the worker to report its upstreams',
    )
    // One message to primary is held at DATA long enough for a periodic report (every 5 s)
    // to see its connection in use.
    primary!.script = {
      data: (_envelope, raw) => (raw.includes('Subject: Hold') ? { delayMs: 8_000 } : 'accept'),
    }
    await outbox.send({ ...toPrimary(0), subject: 'Hold' })
    await waitUntil(
      async () => (await upstream('primary')).connections === 1,
      8_000,
      'the held send to show as a connection in use',
    )
    for (let i = 1; i <= 5; i++) await outbox.send(toBulk(i))
    for (let i = 1; i <= 3; i++) await outbox.send(toPrimary(i))
    await outbox.send(toPrimary(4, 'slow.example'))
    await bulk!.waitFor(5, 20_000)
    await primary!.waitFor(5, 20_000)
    expect(bulk!.messages.every((m) => m.to[0]!.endsWith('@bulk.example'))).toBe(true)
    expect(primary!.messages.some((m) => m.to[0]!.endsWith('@bulk.example'))).toBe(false)

    // The attempts are recorded just after the sinks accepted them; the reports follow.
    await waitUntil(
      async () => {
        const { upstreams } = await overview()
        const sent = (name: string) => upstreams.find((u) => u.name === name)?.lastHour.sent
        const busy = upstreams.reduce((n, u) => n + u.connections, 0)
        return sent('primary') === 5 && sent('bulk') === 5 && busy === 0
      },
      15_000,
      'the last hour to count every message on its upstream, and the connections to be free',
    )
    const { upstreams, domains } = await overview()
    expect(upstreams.map((u) => u.name).sort()).toEqual(['bulk', 'default', 'primary'])
    const byName = new Map(upstreams.map((u) => [u.name, u]))
    expect(byName.get('bulk')).toMatchObject({
      state: 'up',
      downSince: null,
      misconfigured: false,
      rateLimit: '50/s',
      configuredRatePerSec: 50,
      currentRatePerSec: 50,
      throttledAt: null,
      maxConnections: 2,
      connections: 0,
      workers: 1,
      lastHour: { sent: 5, deferred: 0, failed: 0 },
      lastError: null,
    })
    expect(byName.get('primary')).toMatchObject({
      state: 'up',
      rateLimit: null,
      configuredRatePerSec: null,
      currentRatePerSec: null,
      maxConnections: 3,
      connections: 0,
      workers: 1,
      lastHour: { sent: 5, deferred: 0, failed: 0 },
      lastError: null,
    })
    // The default upstream (capture here) is listed too, with nothing through it.
    expect(byName.get('default')).toMatchObject({
      state: 'up',
      lastHour: { sent: 0, deferred: 0, failed: 0 },
    })
    expect(domains).toEqual([
      {
        domain: 'slow.example',
        rateLimit: '5/s',
        configuredRatePerSec: 5,
        currentRatePerSec: 5,
        throttledAt: null,
      },
    ])

    // The overview's stats carry the same view for the dashboard.
    const stats = (await (await get('/api/stats')).json()) as { routing: RoutingOverview }
    expect(stats.routing.upstreams.map((u) => [u.name, u.state, u.lastHour.sent]).sort()).toEqual([
      ['bulk', 'up', 5],
      ['default', 'up', 0],
      ['primary', 'up', 5],
    ])
    expect(stats.routing.domains.map((d) => d.domain)).toEqual(['slow.example'])

    const text = await metrics()
    expect(text).toMatch(/^outbox_upstream_up\{upstream="bulk"\} 1$/m)
    expect(text).toMatch(/^outbox_upstream_up\{upstream="primary"\} 1$/m)
    expect(text).toMatch(/^outbox_upstream_connections\{upstream="primary"\} 0$/m)
    expect(text).toMatch(/^outbox_rate_limit_per_second\{upstream="bulk",domain=""\} 50$/m)
    expect(text).toMatch(/^outbox_rate_limit_per_second\{upstream="",domain="slow.example"\} 5$/m)
    expect(text).toMatch(/^outbox_messages_sent_total\{captured="false",upstream="bulk"\} 5$/m)
    expect(text).toMatch(/^outbox_messages_sent_total\{captured="false",upstream="primary"\} 5$/m)
    expect(text).toMatch(/^outbox_attempt_duration_seconds_count\{upstream="bulk"\} 5$/m)
  })

  it('shows an upstream down, with its last error, while the other stays up; and back up', async () => {
    const { outbox, storeUrl } = await start()
    await outbox.send(toBulk(1))
    await outbox.send(toPrimary(1))
    await bulk!.waitFor(1, 20_000)
    await primary!.waitFor(1, 20_000)

    await bulk!.stop()
    await outbox.send(toBulk(2))
    await waitUntil(
      async () => {
        const u = await upstream('bulk')
        return u.state === 'down' && u.lastError !== null
      },
      20_000,
      'bulk to be reported down',
    )
    const down = await upstream('bulk')
    expect(down.downSince).not.toBeNull()
    expect(down.misconfigured).toBe(false)
    expect(down.lastError!.error).toMatch(/ECONNREFUSED|refused/i)
    expect(down.lastError!.at).not.toBeNull()
    // Sent before the outage; the attempt that found it down left its message deferred.
    expect(down.lastHour).toMatchObject({ sent: 1, failed: 0 })
    expect(down.lastHour.deferred).toBeGreaterThanOrEqual(1)

    // The other upstream is unaffected, and still delivers.
    await outbox.send(toPrimary(2))
    await primary!.waitFor(2, 20_000)
    await waitUntil(
      async () => (await upstream('primary')).lastHour.sent === 2,
      10_000,
      'primary to count its second message',
    )
    expect(await upstream('primary')).toMatchObject({ state: 'up', lastError: null })
    expect((await upstream('bulk')).state).toBe('down')

    const text = await metrics()
    expect(text).toMatch(/^outbox_upstream_up\{upstream="bulk"\} 0$/m)
    expect(text).toMatch(/^outbox_upstream_up\{upstream="primary"\} 1$/m)
    expect(text).toMatch(/^outbox_messages_sent_total\{captured="false",upstream="primary"\} 2$/m)
    expect(text).toMatch(/^outbox_messages_sent_total\{captured="false",upstream="bulk"\} 1$/m)

    // A dashboard-only process on the same store (no worker, so no breaker of its own trips)
    // says what the workers report, in its API and its metrics.
    const viewerOutbox = await createOutbox(options(storeUrl))
    viewer = {
      outbox: viewerOutbox,
      server: await startHttpServer(viewerOutbox, { listen: '127.0.0.1:0', adminToken: TOKEN }),
    }
    const seen = (await (await get('/api/upstreams', viewer.server)).json()) as RoutingOverview
    expect(seen.upstreams.find((u) => u.name === 'bulk')).toMatchObject({
      state: 'down',
      lastError: { error: down.lastError!.error },
    })
    expect(seen.upstreams.find((u) => u.name === 'primary')?.state).toBe('up')
    const viewerText = await metrics(viewer.server)
    expect(viewerText).toMatch(/^outbox_upstream_up\{upstream="bulk"\} 0$/m)
    expect(viewerText).toMatch(/^outbox_upstream_up\{upstream="primary"\} 1$/m)

    // Back: the probe closes the breaker, the parked message goes out, the view says up.
    await bulk!.restart()
    await bulk!.waitFor(2, 20_000)
    await waitUntil(
      async () => (await upstream('bulk')).state === 'up',
      10_000,
      'bulk to be reported up again',
    )
    expect((await upstream('bulk')).downSince).toBeNull()
    await waitUntil(
      async () => /^outbox_upstream_up\{upstream="bulk"\} 1$/m.test(await metrics()),
      10_000,
      'the metric to say bulk is up again',
    )
    await waitUntil(
      async () => /^outbox_upstream_up\{upstream="bulk"\} 1$/m.test(await metrics(viewer!.server)),
      10_000,
      'the dashboard process to say bulk is up again',
    )
  })
})
