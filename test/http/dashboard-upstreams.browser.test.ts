/// <reference lib="dom" />
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOutbox, startHttpServer, type HttpServer, type Outbox } from '../../src/index.js'
import { CHROMIUM, launchChromium } from '../helpers/chromium.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'
import { waitUntil } from '../helpers/temp.js'

const available = existsSync(CHROMIUM)
if (!available && process.env.CI)
  throw new Error(`${CHROMIUM} is missing: .ci/run installs the chromium package`)

/** What the bulk upstream answers once it goes down: long, as real refusals can be. */
const LONG_REFUSAL =
  'Service not available, closing transmission channel: this relay is undergoing scheduled ' +
  'maintenance of its outbound cluster and refuses every new connection until the maintenance ' +
  'window ends; see https://status.bulk.example/incidents/2024-11-30-outbound-maintenance-window'

/** One upstream row as the page shows it. */
interface Row {
  cells: string[]
  state: string
}

/**
 * The overview's Upstreams panel in a real Chromium, against two named upstreams on real SMTP
 * sinks and a running worker: a row per upstream and per limited domain, and the row of an
 * upstream that goes down saying so once the page refreshes.
 */
describe.skipIf(!available)('dashboard: the Upstreams panel', () => {
  const dir = mkdtempSync(join(tmpdir(), 'outbox-dashboard-upstreams-'))
  let primary: SmtpSink
  let bulk: SmtpSink
  let outbox: Outbox
  let server: HttpServer
  let browser: Browser
  let page: Page

  beforeAll(async () => {
    primary = await createSmtpSink()
    bulk = await createSmtpSink()
    outbox = await createOutbox({
      store: `sqlite:${join(dir, 'q.db')}`,
      upstreams: {
        primary: { url: primary.url, maxConnections: 4 },
        bulk: { url: bulk.url, rateLimit: '50/s', maxConnections: 2 },
      },
      routes: [
        { match: { to: '@bulk.example' }, upstream: 'bulk' },
        { match: { from: '@shop.example' }, upstream: 'primary' },
      ],
      domainLimits: { 'gmail.com': '100/m', 'slow.example': '5/s' },
    })
    await outbox.worker().start()
    server = await startHttpServer(outbox, {
      listen: '127.0.0.1:0',
      upstream: { label: primary.url, capture: false },
      workerInProcess: true,
    })
    for (let i = 1; i <= 3; i++) {
      await outbox.send({
        from: 'news@shop.example',
        to: `reader${i}@bulk.example`,
        subject: `Newsletter ${i}`,
        text: 'News',
      })
    }
    for (let i = 1; i <= 2; i++) {
      await outbox.send({
        from: 'orders@shop.example',
        to: `customer${i}@example.com`,
        subject: `Order ${i}`,
        text: 'Receipt',
      })
    }
    await bulk.waitFor(3, 20_000)
    await primary.waitFor(2, 20_000)
    // Recorded in the store, so that the first page load already counts them.
    await waitUntil(
      async () => {
        const { upstreams } = await outbox.admin.upstreams()
        return (
          upstreams.find((u) => u.name === 'bulk')?.lastHour.sent === 3 &&
          upstreams.find((u) => u.name === 'primary')?.lastHour.sent === 2
        )
      },
      10_000,
      'the attempts to be recorded',
    )
    browser = await launchChromium()
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await server?.close()
    await outbox?.close()
    await primary?.close()
    await bulk?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  /** Every upstream row of the panel, read in one go (one render). */
  const rows = (): Promise<Record<string, Row>> =>
    page.evaluate(() => {
      const out: Record<string, { cells: string[]; state: string }> = {}
      for (const tr of Array.from(
        document.querySelectorAll<HTMLTableRowElement>('tr[data-upstream]'),
      )) {
        const cells = Array.from(tr.cells).map((td) => td.textContent?.trim() ?? '')
        const state = tr.cells[1]?.querySelector('.badge')?.textContent?.trim() ?? ''
        out[tr.dataset.upstream!] = { cells, state }
      }
      return out
    })

  it('lists every upstream with its state and rate, and every limited domain', async () => {
    await page.goto(server.url)
    await page.getByRole('heading', { name: 'Upstreams' }).waitFor()
    await page.locator('tr[data-upstream="bulk"]').waitFor()
    const shown = await rows()
    expect(Object.keys(shown).sort()).toEqual(['bulk', 'default', 'primary'])
    expect(shown.bulk!.state).toBe('up')
    expect(shown.bulk!.cells[2]).toBe('50/s')
    expect(shown.bulk!.cells[3]).toBe('0 of 2')
    expect(shown.bulk!.cells.slice(4, 7)).toEqual(['3', '0', '0'])
    expect(shown.primary!.state).toBe('up')
    expect(shown.primary!.cells[2]).toBe('unlimited')
    expect(shown.primary!.cells.slice(4, 7)).toEqual(['2', '0', '0'])
    const domains = await page.evaluate(() =>
      Array.from(document.querySelectorAll<HTMLTableRowElement>('tr[data-domain]')).map((tr) => [
        tr.dataset.domain,
        tr.cells[1]?.textContent?.trim(),
      ]),
    )
    expect(domains).toEqual([
      ['gmail.com', '100/m'],
      ['slow.example', '5/s'],
    ])
  })

  it("shows on a message's page which upstream each attempt went through", async () => {
    const { messages } = await outbox.admin.list({ to: 'reader1@bulk.example' }, { limit: 1 })
    await page.goto(`${server.url}/#/messages/${messages[0]!.id}`)
    await page.locator('table.attempts tbody tr').first().waitFor()
    const attempt = await page.evaluate(() => {
      const table = document.querySelector('table.attempts')!
      const headers = Array.from(table.querySelectorAll('th')).map((th) => th.textContent?.trim())
      const cells = Array.from(table.querySelectorAll('tbody tr')[0]!.querySelectorAll('td'))
      return cells[headers.indexOf('Upstream')]?.textContent?.trim()
    })
    expect(attempt).toBe('bulk')
  })

  it('says an upstream is down once the page refreshes, and keeps the layout', async () => {
    // The page shows bulk up before anything changes: what follows is a refresh, not the
    // first render.
    await page.goto(server.url)
    await page.locator('tr[data-upstream="bulk"]').waitFor()
    expect((await rows()).bulk!.state).toBe('up')

    // Bulk now refuses every connection at the greeting (its breaker opens): its open
    // connections are cut, so mail routed to it has to connect anew and finds it down.
    bulk.script = { connect: () => ({ code: 421, message: LONG_REFUSAL }) }
    await bulk.stop()
    await bulk.restart()
    await outbox.send({
      from: 'news@shop.example',
      to: 'reader9@bulk.example',
      subject: 'Newsletter 9',
      text: 'News',
    })
    await waitUntil(
      async () =>
        (await outbox.admin.upstreams()).upstreams.find((u) => u.name === 'bulk')?.state === 'down',
      20_000,
      'the worker to report bulk down',
    )
    // The page polls (every 10 s) and refreshes on this process's events: no reload here.
    await page.waitForFunction(
      () =>
        document.querySelector('tr[data-upstream="bulk"] .badge')?.textContent?.startsWith('down'),
      undefined,
      { timeout: 30_000 },
    )
    const shown = await rows()
    expect(shown.bulk!.state).toBe('down — probing')
    expect(shown.bulk!.cells[1]).toMatch(/for \d+s$/)
    expect(shown.bulk!.cells[7]).toContain('421')
    expect(shown.primary!.state).toBe('up')

    // The long reply is clamped (in full on hover), not stretching the row or the page.
    const layout = async () =>
      page.evaluate(() => {
        const height = (name: string) =>
          document.querySelector(`tr[data-upstream="${name}"]`)!.getBoundingClientRect().height
        const table = document.querySelector<HTMLElement>('table.upstreams')!
        return {
          bulk: height('bulk'),
          primary: height('primary'),
          tableWidth: table.scrollWidth,
          wrapWidth: table.parentElement!.clientWidth,
          pageWidth: document.documentElement.scrollWidth,
          viewport: window.innerWidth,
          title: document
            .querySelector('tr[data-upstream="bulk"] [title*="421"]')
            ?.getAttribute('title'),
        }
      })
    const wide = await layout()
    expect(wide.bulk).toBeLessThan(2.5 * wide.primary)
    expect(wide.tableWidth).toBeLessThanOrEqual(wide.wrapWidth)
    expect(wide.title).toContain('outbound-maintenance-window')
    const panel = page.locator('section', { has: page.locator('#upstreams-title') })
    await panel.screenshot({ path: join(dir, 'upstreams-panel.png') })
    await page.screenshot({ path: join(dir, 'overview.png'), fullPage: true })
    // On a narrow screen the table scrolls inside its panel; the page does not.
    await page.setViewportSize({ width: 760, height: 900 })
    const narrow = await layout()
    expect(narrow.pageWidth).toBeLessThanOrEqual(narrow.viewport)
    expect(narrow.bulk).toBeLessThan(2.5 * narrow.primary)
    await panel.screenshot({ path: join(dir, 'upstreams-narrow.png') })
  })
})
