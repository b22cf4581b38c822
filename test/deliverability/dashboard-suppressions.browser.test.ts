/// <reference lib="dom" />
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOutbox, startHttpServer, type HttpServer, type Outbox } from '../../src/index.js'
import { CHROMIUM, launchChromium } from '../helpers/chromium.js'

const TOKEN = 'dashboard-suppress-token-0123456789'
const available = existsSync(CHROMIUM)
if (!available) {
  if (process.env.CI)
    throw new Error(`${CHROMIUM} is missing: .ci/run installs the chromium package`)
  console.warn(
    `skipping the suppression dashboard tests: ${CHROMIUM} is not installed (apt-get install chromium)`,
  )
}

const rows = (page: Page) =>
  page.$$eval('table.suppressions tbody tr', (trs) =>
    trs.map((tr) => (tr as HTMLElement).dataset.address),
  )

/** A real Chromium against a real server, signed in with the admin token. */
describe.skipIf(!available)('the Suppressions page in Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'outbox-dashboard-suppress-'))
  let outbox: Outbox
  let server: HttpServer
  let browser: Browser
  let page: Page
  let messageId: string
  const dialogs: string[] = []

  beforeAll(async () => {
    outbox = await createOutbox({ store: `sqlite:${join(dir, 'q.db')}` })
    server = await startHttpServer(outbox, { listen: '127.0.0.1:0', adminToken: TOKEN })
    messageId = (
      await outbox.send({ from: 'shop@example.com', to: 'x@example.com', subject: 'x', text: 'x' })
    ).id
    await outbox.admin.suppressions.add(
      Array.from({ length: 60 }, (_, i) => `customer${String(i).padStart(2, '0')}@example.org`),
    )
    // An entry that came from a delivery, with a remote reply meant to be shown as text only.
    await outbox.admin.suppressions.import(
      `address,reason,reply,message\ngone@example.com,rejected,<img src=x onerror=alert(1)> 550 5.1.1 unknown,${messageId}\n`,
    )
    browser = await launchChromium()
    page = await browser.newPage({ viewport: { width: 1366, height: 900 } })
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message())
      void dialog.accept()
    })
    await page.goto(server.url)
    await page.locator('#token').fill(TOKEN)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('heading', { name: 'Overview' }).waitFor()
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await server?.close()
    await outbox?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('lists the entries a page at a time, with the message they came from', async () => {
    await page.getByRole('link', { name: 'Suppressions' }).click()
    await page.getByRole('heading', { name: 'Suppressions' }).waitFor()
    await page.locator('table.suppressions').waitFor()
    expect(await page.locator('#suppression-count').textContent()).toBe('61 suppressed addresses')
    expect(await rows(page)).toHaveLength(50)
    await page.locator('#next-page').click()
    await page.waitForFunction(
      () => document.querySelectorAll('table.suppressions tbody tr').length === 11,
    )
    const gone = page.locator('tr[data-address="gone@example.com"]')
    await expect(gone.locator('td').nth(1).textContent()).resolves.toBe('rejected')
    // The remote reply is text, never markup.
    await expect(gone.locator('td').nth(2).textContent()).resolves.toContain('<img src=x')
    expect(await page.locator('table.suppressions img').count()).toBe(0)
    await gone.getByRole('link', { name: messageId }).click()
    await page.waitForURL(`**/#/messages/${messageId}`)
    // The message page has drawn (the next test navigates away from it).
    await page.locator('.title-row h1').waitFor()
  })

  it('narrows the list as one types in the search box', async () => {
    await page.goto(`${server.url}/#/suppressions`)
    await page.locator('table.suppressions').waitFor()
    await page.keyboard.press('/')
    await page.keyboard.type('customer4')
    await page.waitForFunction(
      () => document.querySelectorAll('table.suppressions tbody tr').length === 10,
    )
    expect(await rows(page)).toEqual(
      Array.from({ length: 10 }, (_, i) => `customer4${i}@example.org`),
    )
    expect(await page.locator('#suppression-count').textContent()).toContain('10 suppressed')
    // The search is kept in the URL, and the box keeps the focus.
    expect(page.url()).toContain('#/suppressions?search=customer4')
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('search')
    await page.keyboard.type('2@')
    await page.waitForFunction(
      () => document.querySelectorAll('table.suppressions tbody tr').length === 1,
    )
    expect(await rows(page)).toEqual(['customer42@example.org'])
  })

  it('removes an entry after confirmation, from the page and from the store', async () => {
    await page.goto(`${server.url}/#/suppressions?search=customer42`)
    await page.locator('tr[data-address="customer42@example.org"]').waitFor()
    await page.getByRole('button', { name: 'Remove customer42@example.org' }).click()
    await page
      .getByText('The suppression list is empty.')
      .or(page.getByText('No suppressed address matches.'))
      .waitFor()
    expect(dialogs.at(-1)).toContain('Remove customer42@example.org from the suppression list?')
    expect(await outbox.admin.suppressions.count('customer42')).toBe(0)
    expect(await outbox.admin.suppressions.count()).toBe(60)
  })

  it('adds addresses from the form, and says what was wrong with a bad one', async () => {
    await page.goto(`${server.url}/#/suppressions`)
    await page.locator('table.suppressions').waitFor()
    await page.locator('#suppress-addresses').fill('New.One@Example.net, second@example.net')
    await page.locator('#suppress-note').fill('requested by support')
    await page.getByRole('button', { name: 'Add', exact: true }).click()
    await page.getByText('Added 2').waitFor()
    await page.waitForFunction(() =>
      document.querySelector('#suppression-count')?.textContent?.startsWith('62 '),
    )
    const [entry] = await outbox.admin.suppressions
      .list({ search: 'new.one' })
      .then((p) => p.entries)
    expect(entry).toMatchObject({
      address: 'new.one@example.net',
      reason: 'manual',
      reply: 'requested by support',
    })

    await page.locator('#suppress-addresses').fill('not an address')
    await page.getByRole('button', { name: 'Add', exact: true }).click()
    await page.locator('#toast.error').waitFor()
    expect(await page.locator('#toast').textContent()).toContain('is not an address')
    expect(await page.locator('#suppress-addresses').getAttribute('aria-invalid')).toBe('true')
    expect(await outbox.admin.suppressions.count()).toBe(62)
  })
})
