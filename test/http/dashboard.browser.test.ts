/// <reference lib="dom" />
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore } from '../../src/store/open-store.js'
import { createOutbox, startHttpServer, type HttpServer, type Outbox } from '../../src/index.js'
import { CHROMIUM, launchChromium } from '../helpers/chromium.js'

/** The README's screenshots: refreshed with OUTBOX_SCREENSHOTS=1; other runs write them to a temp dir. */
const shots =
  process.env.OUTBOX_SCREENSHOTS === '1' ? 'docs' : mkdtempSync(join(tmpdir(), 'outbox-shots-'))
afterAll(() => {
  if (shots !== 'docs') rmSync(shots, { recursive: true, force: true })
})
const available = existsSync(CHROMIUM)
if (!available) {
  if (process.env.CI)
    throw new Error(`${CHROMIUM} is missing: .ci/run installs the chromium package`)
  console.warn(
    `skipping the dashboard browser tests: ${CHROMIUM} is not installed (apt-get install chromium)`,
  )
}

/** A real Chromium against a real server: the dashboard as an operator uses it. */
describe.skipIf(!available)('dashboard in Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'outbox-dashboard-'))
  let outbox: Outbox
  let server: HttpServer
  let browser: Browser
  let page: Page
  let failedId: string
  let htmlId: string

  beforeAll(async () => {
    // Capture mode: the dashboard doubles as a mail catcher.
    outbox = await createOutbox({ store: `sqlite:${join(dir, 'q.db')}` })
    server = await startHttpServer(outbox, {
      listen: '127.0.0.1:0',
      upstream: { label: 'capture', capture: true },
      workerInProcess: true,
    })
    for (let i = 1; i <= 12; i++) {
      await outbox.send(
        {
          from: 'shop@example.com',
          to: `customer${i}@example.org`,
          subject: `Order #${1000 + i} confirmed`,
          text: `Thank you for order ${1000 + i}.`,
        },
        { tags: ['receipt'] },
      )
    }
    htmlId = (
      await outbox.send({
        from: 'news@example.com',
        to: 'reader@example.net',
        subject: 'Our November newsletter',
        text: 'Newsletter (text part)',
        html:
          '<h1 id="headline">November news</h1><p>Hello <b>reader</b>.</p>' +
          '<img id="pixel" src="http://127.0.0.1:9/pixel.gif" alt="tracking pixel">' +
          '<script>document.title = "script ran"</script>',
      })
    ).id
    await outbox.drain()
    // A message that failed: the recipient was refused. Held first so no worker takes it.
    failedId = (
      await outbox.send({
        from: 'shop@example.com',
        to: 'gone@example.com',
        subject: 'Bounced',
        text: 'x',
      })
    ).id
    await outbox.admin.hold({ ids: [failedId] })
    browser = await launchChromium()
    page = await browser.newPage({ viewport: { width: 1366, height: 900 } })
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await server?.close()
    await outbox?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('loads the overview with counts, charts, upstream and the captured mail', async () => {
    await page.goto(server.url)
    await page.getByRole('heading', { name: 'Overview' }).waitFor()
    await expect(
      page.locator('.card', { hasText: 'sent' }).locator('.card-value').textContent(),
    ).resolves.toBe('13')
    await page.getByText('Captured mail, newest first').waitFor()
    await page.locator('#chart-activity .uplot').waitFor()
    await page.getByRole('heading', { name: 'Upstream' }).waitFor()
    await page.screenshot({ path: join(shots, 'dashboard-overview.png'), fullPage: true })
  })

  it('filters the message list by search and status', async () => {
    await page.goto(`${server.url}/#/messages`)
    // The messages page itself (the overview has a table.messages too: its latest mail).
    await page.locator('#search').waitFor()
    await page.locator('table.messages').waitFor()
    await page.keyboard.press('/')
    await page.keyboard.type('customer7@example.org')
    await page.keyboard.press('Enter')
    await page.waitForFunction(
      () => document.querySelectorAll('table.messages tbody tr').length === 1,
    )
    await expect(page.locator('table.messages tbody').textContent()).resolves.toContain(
      'Order #1007',
    )
    // The search's one row stays on screen until the held list replaces it: wait for the
    // held message itself, not merely for one row.
    await page.goto(`${server.url}/#/messages?status=held`)
    await page.waitForFunction(() => {
      const rows = document.querySelectorAll('table.messages tbody tr')
      return rows.length === 1 && rows[0]?.textContent?.includes('Bounced')
    })
    await expect(page.locator('table.messages tbody').textContent()).resolves.not.toContain(
      'Order #1007',
    )
  })

  it('opens a failed message, retries it and sees its status change', async () => {
    // Fail it for real through the store: a refused recipient recorded as an attempt.
    await outbox.admin.release({ ids: [failedId] })
    const store = await openStore(`sqlite:${join(dir, 'q.db')}`)
    try {
      const [claimed] = await store.claim({ owner: 'test', limit: 1, leaseMs: 60_000 })
      expect(claimed!.id).toBe(failedId)
      const refused = [
        {
          address: 'gone@example.com',
          status: 'failed' as const,
          code: 550,
          reply: '550 5.1.1 no such user',
        },
      ]
      await store.complete({
        id: failedId,
        owner: 'test',
        attempt: {
          worker: 'test',
          startedAt: new Date(),
          durationMs: 3,
          outcome: 'failed',
          error: '550 5.1.1 no such user',
          recipients: refused,
        },
        recipients: refused,
        status: 'failed',
        dueAt: null,
        countsTowardBackoff: true,
        waitingForUpstream: false,
        reason: 'rejected',
        captured: false,
      })
    } finally {
      await store.close()
    }
    await page.goto(`${server.url}/#/messages?status=failed`)
    await page.getByRole('link', { name: 'Bounced' }).click()
    await page.getByRole('heading', { name: 'Bounced' }).waitFor()
    await expect(page.locator('.title-row .badge').textContent()).resolves.toBe('failed')
    await page.getByText('550 5.1.1 no such user').first().waitFor()
    await page.getByRole('button', { name: 'Retry' }).click()
    await page.waitForFunction(
      () => document.querySelector('.title-row .badge')?.textContent === 'queued',
    )
    await outbox.drain()
    await page.reload()
    await page.waitForFunction(
      () => document.querySelector('.title-row .badge')?.textContent === 'captured',
    )
  })

  it('shows a captured HTML mail safely: no script, remote images only on request', async () => {
    await page.goto(`${server.url}/#/messages/${htmlId}`)
    await page.getByRole('heading', { name: 'Our November newsletter' }).waitFor()
    const frame = page.frameLocator('iframe.mail-html')
    await expect(frame.locator('#headline').textContent()).resolves.toBe('November news')
    const mailFrame = page.frames().find((f) => f.url().includes('/html'))!
    await expect(mailFrame.title()).resolves.not.toBe('script ran')
    const width = await frame
      .locator('#pixel')
      .evaluate((img: HTMLImageElement) => img.naturalWidth)
    expect(width).toBe(0)
    await page.screenshot({ path: join(shots, 'dashboard-message.png'), fullPage: true })
    await page.getByRole('tab', { name: 'Text' }).click()
    await page.getByText('Newsletter (text part)').waitFor()
    await page.getByRole('tab', { name: 'HTML' }).click()
    await page.getByRole('button', { name: 'Show remote images' }).click()
    await page.waitForFunction(() =>
      (document.querySelector('iframe.mail-html') as HTMLIFrameElement).src.endsWith('images=1'),
    )
  })
})
