/// <reference lib="dom" />
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOutbox, startHttpServer, type HttpServer, type Outbox } from '../../src/index.js'
import { CHROMIUM, launchChromium } from '../helpers/chromium.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'

const TOKEN = 'dashboard-webhooks-token-0123456789'
const SECRET = 'a webhook secret of at least 24 characters'
const available = existsSync(CHROMIUM)
if (!available) {
  if (process.env.CI)
    throw new Error(`${CHROMIUM} is missing: .ci/run installs the chromium package`)
  console.warn(
    `skipping the webhooks dashboard tests: ${CHROMIUM} is not installed (apt-get install chromium)`,
  )
}

/** A receiver on 127.0.0.1 answering `status`, with a body meant to be shown as text only. */
async function startReceiver(status: number) {
  const state = { status, requests: 0 }
  const server: Server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      state.requests++
      res
        .writeHead(state.status, { 'content-type': 'text/html' })
        .end(state.status < 300 ? 'ok' : '<b id="injected">boom</b>')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    state,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

const row = (page: Page, name: string) => page.locator(`table.webhooks tr[data-webhook="${name}"]`)

/** A real Chromium against a real server, signed in with the admin token. */
describe.skipIf(!available)('the Webhooks page in Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'outbox-dashboard-webhooks-'))
  let good: Awaited<ReturnType<typeof startReceiver>>
  let bad: Awaited<ReturnType<typeof startReceiver>>
  let sink: SmtpSink
  let outbox: Outbox
  let server: HttpServer
  let empty: { outbox: Outbox; server: HttpServer } | undefined
  let browser: Browser
  let page: Page

  beforeAll(async () => {
    good = await startReceiver(200)
    bad = await startReceiver(500)
    sink = await createSmtpSink()
    outbox = await createOutbox({
      store: `sqlite:${join(dir, 'q.db')}`,
      upstream: sink.url,
      webhooks: [
        { url: good.url, events: ['queued', 'sent'], secret: SECRET, name: 'crm' },
        // Given up a second after its first failure: the retry button then has work to do.
        { url: bad.url, events: ['sent'], secret: SECRET, name: 'billing', retryFor: '1s' },
      ],
    })
    server = await startHttpServer(outbox, { listen: '127.0.0.1:0', adminToken: TOKEN })
    await outbox.send({ from: 'shop@example.com', to: 'ann@example.com', subject: 'x', text: 'x' })
    await outbox.drain()
    browser = await launchChromium()
    page = await browser.newPage({ viewport: { width: 1366, height: 900 } })
    await page.goto(server.url)
    await page.locator('#token').fill(TOKEN)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('heading', { name: 'Overview' }).waitFor()
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await empty?.server.close()
    await empty?.outbox.close()
    await server?.close()
    await outbox?.close()
    await sink?.close()
    await good?.close()
    await bad?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('shows each endpoint with its state, and a failing one’s last error as text', async () => {
    await page.getByRole('link', { name: 'Webhooks' }).click()
    await page.getByRole('heading', { name: 'Webhooks' }).waitFor()
    const crm = row(page, 'crm')
    await crm.waitFor()
    expect(await crm.getAttribute('data-state')).toBe('ok')
    expect(await crm.locator('.badge').textContent()).toBe('ok')
    expect(await crm.locator('td').nth(1).textContent()).toBe('queued, sent')
    expect(Number(await crm.locator('td').nth(4).textContent())).toBeGreaterThan(0)

    const billing = row(page, 'billing')
    expect(await billing.getAttribute('data-state')).toBe('failing')
    expect(await billing.locator('.badge').textContent()).toBe('failing')
    const error = await billing.locator('.webhook-error').textContent()
    expect(error).toContain('HTTP 500')
    // The receiver's answer is text, never markup.
    expect(error).toContain('<b id="injected">boom</b>')
    expect(await page.locator('#injected').count()).toBe(0)
    expect(await billing.getByRole('button', { name: /Retry given-up/ }).isDisabled()).toBe(true)
  })

  it('sends again what an endpoint gave up on when asked', async () => {
    // Drained again until the failing batch is given up (a second after it first failed).
    const deadline = Date.now() + 30_000
    const billingState = async () =>
      (await outbox.admin.webhooks.list()).find((w) => w.name === 'billing')!
    while ((await billingState()).state !== 'gave-up') {
      if (Date.now() > deadline) throw new Error('billing was not given up within 30 s')
      await new Promise((resolve) => setTimeout(resolve, 250))
      await outbox.drain()
    }
    await page.reload()
    const billing = row(page, 'billing')
    await page.locator('table.webhooks tr[data-webhook="billing"][data-state="gave-up"]').waitFor()
    expect(await billing.locator('td').nth(9).textContent()).toBe('1')

    bad.state.status = 200
    const before = bad.state.requests
    await billing.getByRole('button', { name: 'Retry given-up events of billing' }).click()
    await page.locator('#toast.show').getByText('Asked 1 endpoint').waitFor()
    await outbox.drain()
    expect(bad.state.requests).toBeGreaterThan(before)
    const after = await billingState()
    expect(after).toMatchObject({ state: 'ok', failed: { batches: 0, events: 0 } })
    expect(after.delivered).toBeGreaterThan(0)
    await page.reload()
    await page.locator('table.webhooks tr[data-webhook="billing"][data-state="ok"]').waitFor()
  })

  it('says so when no webhooks are configured', async () => {
    const outboxWithout = await createOutbox({ store: `sqlite:${join(dir, 'none.db')}` })
    empty = {
      outbox: outboxWithout,
      server: await startHttpServer(outboxWithout, { listen: '127.0.0.1:0' }),
    }
    const other = await browser.newPage()
    await other.goto(`${empty.server.url}/#/webhooks`)
    await other.locator('#webhooks-empty').waitFor()
    expect(await other.locator('#webhooks-empty').textContent()).toContain(
      'No webhooks are configured',
    )
    expect(await other.locator('table.webhooks').count()).toBe(0)
    await other.close()
  })
})
