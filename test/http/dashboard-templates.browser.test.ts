/// <reference lib="dom" />
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOutbox, startHttpServer, type HttpServer, type Outbox } from '../../src/index.js'
import { CHROMIUM, launchChromium } from '../helpers/chromium.js'

const TOKEN = 'dashboard-templates-token-0123456789'
const available = existsSync(CHROMIUM)
if (!available) {
  if (process.env.CI)
    throw new Error(`${CHROMIUM} is missing: .ci/run installs the chromium package`)
  console.warn(
    `skipping the template dashboard tests: ${CHROMIUM} is not installed (apt-get install chromium)`,
  )
}

/** The rows of the versions table, as their version numbers. */
const versionRows = (page: Page) =>
  page.$$eval('table.template-versions tbody tr', (trs) =>
    trs.map((tr) => Number((tr as HTMLElement).dataset.version)),
  )

/** Replaces the sample context as a person would: select all, type. */
async function typeContext(page: Page, text: string) {
  const box = page.locator('#sample-context')
  await box.click()
  await box.press('ControlOrMeta+a')
  await box.press('Delete')
  await box.pressSequentially(text)
}

/** A real Chromium against a real server and store, signed in with the admin token. */
describe.skipIf(!available)('the Templates page in Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'outbox-dashboard-templates-'))
  let outbox: Outbox
  let server: HttpServer
  let browser: Browser
  let page: Page
  const dialogs: string[] = []

  beforeAll(async () => {
    outbox = await createOutbox({ store: `sqlite:${join(dir, 'q.db')}` })
    server = await startHttpServer(outbox, { listen: '127.0.0.1:0', adminToken: TOKEN })
    const templates = outbox.admin.templates
    await templates.put('welcome', 'en', {
      subject: 'Welcome, {{ name }}',
      html: '<p id="greeting" style="color: rgb(200, 0, 0)">Hello {{ name }}, code {{ code }}</p>',
      text: null,
    })
    await templates.put('welcome', 'en', {
      subject: 'Welcome aboard, {{ name }}',
      html: '<p id="greeting" style="color: rgb(200, 0, 0)">Hi there {{ name }}, code {{ code }}</p>',
      text: 'Hi there {{ name }} (text part)',
    })
    await templates.put('welcome', 'de', {
      subject: 'Willkommen, {{ name }}',
      html: null,
      text: 'Hallo {{ name }}',
    })
    // A template whose HTML tries to run script in the dashboard: it must never run.
    await templates.put('evil', 'en', {
      subject: 'Evil {{ name | default: "x" }}',
      html:
        '<p id="shown">Evil template</p><p id="ran">not run</p>' +
        '<script>document.getElementById("ran").textContent = "ran";' +
        'try { parent.document.body.dataset.pwned = "script" } catch (e) {}' +
        'try { top.pwned = "script" } catch (e) {}</script>' +
        '<img id="broken" src="data:," onerror="top.pwned = \'onerror\'">' +
        '<img id="pixel" src="http://127.0.0.1:9/pixel.gif" alt="remote">',
      text: 'evil',
    })
    browser = await launchChromium()
    page = await browser.newPage({ viewport: { width: 1366, height: 900 } })
    page.setDefaultTimeout(15_000)
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

  it('lists the templates with their languages and latest versions', async () => {
    await page.getByRole('link', { name: 'Templates', exact: true }).click()
    await page.getByRole('heading', { name: 'Templates' }).waitFor()
    const row = page.locator('tr[data-template="welcome"]')
    await row.waitFor()
    const languages = await row.locator('td.template-languages .tag').allTextContents()
    expect(languages.sort()).toEqual(['de v1', 'en v2'])
    await expect(row.locator('td').nth(2).textContent()).resolves.toMatch(/ago$/)
    await page.locator('tr[data-template="evil"]').waitFor()
  })

  it('opens a template: its versions newest first, the source as text, a live preview', async () => {
    await page.goto(`${server.url}/#/templates`)
    await page.getByRole('link', { name: 'welcome', exact: true }).click()
    await page.getByRole('heading', { name: 'welcome', exact: true }).waitFor()
    // Its languages as tabs, the first one shown; then English.
    expect(await page.locator('[data-language]').allTextContents()).toEqual(['de', 'en'])
    await page.getByRole('heading', { name: 'Versions (de)' }).waitFor()
    await page.getByRole('tab', { name: 'en' }).click()
    await page.getByRole('heading', { name: 'Versions (en)' }).waitFor()
    expect(await versionRows(page)).toEqual([2, 1])
    await expect(page.locator('pre[data-part="subject"]').textContent()).resolves.toBe(
      'Welcome aboard, {{ name }}',
    )
    // The HTML source is text on the page, never markup.
    await expect(page.locator('pre[data-part="html"]').textContent()).resolves.toContain(
      '<p id="greeting"',
    )
    expect(await page.locator('#template-source #greeting').count()).toBe(0)

    await typeContext(page, '{"name": "Ann", "code": "A-1"}')
    await page.waitForFunction(
      () => document.querySelector('#preview-subject')?.textContent === 'Welcome aboard, Ann',
    )
    const frame = page.frameLocator('#preview-frame')
    // The frame loads its new document after the subject is drawn: wait for it.
    await frame.getByText('Hi there Ann, code A-1').waitFor()
    // Styled as the mail is: inline styles apply in the frame.
    await expect(
      frame.locator('#greeting').evaluate((p) => getComputedStyle(p).color),
    ).resolves.toBe('rgb(200, 0, 0)')
    await expect(page.locator('#preview-version').textContent()).resolves.toBe('version 2 (en)')
    await page.getByRole('tab', { name: 'Text' }).click()
    await expect(page.locator('#preview-text').textContent()).resolves.toBe(
      'Hi there Ann (text part)',
    )
    await page.getByRole('tab', { name: 'HTML' }).click()

    // Another version: its source and its rendering, with the same sample context.
    await page.getByRole('button', { name: 'Show version 1' }).click()
    await page.waitForFunction(
      () => document.querySelector('#preview-subject')?.textContent === 'Welcome, Ann',
    )
    await expect(page.locator('pre[data-part="subject"]').textContent()).resolves.toBe(
      'Welcome, {{ name }}',
    )
    await frame.getByText('Hello Ann, code A-1').waitFor()
    expect(page.url()).toContain('#/templates/welcome?language=en&version=1')
    // The sample context is kept across a reload.
    await page.reload()
    await page.waitForFunction(
      () => document.querySelector('#preview-subject')?.textContent === 'Welcome, Ann',
    )
    expect(await page.locator('#sample-context').inputValue()).toBe(
      '{"name": "Ann", "code": "A-1"}',
    )

    // Another language: a text-only one.
    await page.getByRole('tab', { name: 'de' }).click()
    await page.waitForFunction(
      () => document.querySelector('#preview-subject')?.textContent === 'Willkommen, Ann',
    )
    expect(await page.locator('#preview-frame').isHidden()).toBe(true)
    await page.getByText('Text only: the template has no HTML.').waitFor()
  })

  it('shows a missing variable and bad JSON inline, as text', async () => {
    await page.goto(`${server.url}/#/templates/welcome?language=en`)
    await page.locator('#sample-context').waitFor()
    await typeContext(page, '{"name": "<b>Ann</b>"}')
    const error = page.locator('#preview-error')
    await page.waitForFunction(() =>
      document.querySelector('#preview-error')?.textContent?.includes('`code`'),
    )
    expect(await error.isVisible()).toBe(true)
    await expect(error.textContent()).resolves.toContain('is not in the context')
    expect(await error.locator('*').count()).toBe(0)

    await typeContext(page, '{"name": ')
    await page.waitForFunction(() =>
      document
        .querySelector('#preview-error')
        ?.textContent?.includes('The sample context is not valid JSON'),
    )
    expect(await page.locator('#sample-context').getAttribute('aria-invalid')).toBe('true')

    await typeContext(page, '{"name": "Bo", "code": 7}')
    await page.waitForFunction(
      () => document.querySelector('#preview-subject')?.textContent === 'Welcome aboard, Bo',
    )
    expect(await error.isHidden()).toBe(true)
  })

  it("never runs a template's script: the frame is sandboxed and the parent untouched", async () => {
    await page.goto(`${server.url}/#/templates/evil`)
    await page.locator('#sample-context').waitFor()
    await page.waitForFunction(
      () => document.querySelector('#preview-subject')?.textContent === 'Evil x',
    )
    const frame = page.frameLocator('#preview-frame')
    await expect(frame.locator('#shown').textContent()).resolves.toBe('Evil template')
    await expect(frame.locator('#ran').textContent()).resolves.toBe('not run')
    const sandbox = await page.locator('#preview-frame').getAttribute('sandbox')
    expect(sandbox).not.toBeNull()
    expect(sandbox).not.toContain('allow-scripts')
    expect(sandbox).not.toContain('allow-same-origin')
    // The broken image's onerror had its chance to fire; the remote image was not fetched.
    await expect(
      frame.locator('#broken').evaluate((img: HTMLImageElement) => img.complete),
    ).resolves.toBe(true)
    await expect(
      frame.locator('#pixel').evaluate((img: HTMLImageElement) => img.naturalWidth),
    ).resolves.toBe(0)
    const marks = await page.evaluate(() => ({
      top: (window as unknown as { pwned?: string }).pwned ?? null,
      body: document.body.dataset.pwned ?? null,
    }))
    expect(marks).toEqual({ top: null, body: null })
    // The source shows the script as text; no script element is in the dashboard's page.
    await expect(page.locator('pre[data-part="html"]').textContent()).resolves.toContain('<script>')
    expect(await page.locator('main script').count()).toBe(0)
    // The frame's document is the server's preview, under the sandboxing CSP.
    const previewFrame = page.frames().find((f) => f.url().includes('/api/templates/previews/'))
    expect(previewFrame).toBeDefined()
    const response = await page.request.get(previewFrame!.url())
    expect(response.headers()['content-security-policy']).toContain('sandbox')
    expect(response.headers()['content-security-policy']).toContain("default-src 'none'")
  })

  it('edits a template: previews the unsaved change, then saves it as a new version', async () => {
    await page.goto(`${server.url}/#/templates/welcome?language=en`)
    await page.locator('#sample-context').waitFor()
    await typeContext(page, '{"name": "Cy", "code": 9}')
    await page.getByRole('button', { name: 'Edit' }).click()
    await page.getByRole('heading', { name: 'Preview of unsaved changes' }).waitFor()
    expect(await page.locator('#edit-subject').inputValue()).toBe('Welcome aboard, {{ name }}')
    await page.locator('#edit-subject').fill('Hey {{ name }}!')
    await page.waitForFunction(
      () => document.querySelector('#preview-subject')?.textContent === 'Hey Cy!',
    )
    await expect(page.locator('#preview-version').textContent()).resolves.toBe(
      'unsaved changes (en)',
    )

    // A syntax error: shown in the preview as the user types, and refused on save.
    await page.locator('#edit-html').fill('<p>{% if name %}open</p>')
    await page.waitForFunction(() =>
      document.querySelector('#preview-error')?.textContent?.includes('line 1'),
    )
    await page.getByRole('button', { name: 'Save as a new version' }).click()
    await page.locator('#editor-error').waitFor()
    expect(await page.locator('#edit-html').getAttribute('aria-invalid')).toBe('true')
    expect((await outbox.admin.templates.show('welcome', 'en')).version).toBe(2)

    await page.locator('#edit-html').fill('<p id="greeting">Hey {{ name }}, code {{ code }}</p>')
    await page.getByRole('button', { name: 'Save as a new version' }).click()
    await page.getByText('Saved en version 3').waitFor()
    await page.waitForFunction(
      () => document.querySelectorAll('table.template-versions tbody tr').length === 3,
    )
    expect(await versionRows(page)).toEqual([3, 2, 1])
    // The saved version's preview is asked for after the list is drawn: wait for its answer.
    await page.waitForFunction(
      () => document.querySelector('#preview-version')?.textContent === 'version 3 (en)',
    )
    await page.frameLocator('#preview-frame').getByText('Hey Cy, code 9').waitFor()
    const stored = await outbox.admin.templates.show('welcome', 'en')
    expect(stored).toMatchObject({ version: 3, subject: 'Hey {{ name }}!' })
  })

  it('writes a new template from the list page, and deletes a language', async () => {
    await page.goto(`${server.url}/#/templates`)
    await page.locator('#new-template-name').fill('receipt')
    await page.locator('#new-template-language').fill('de')
    await page.getByRole('button', { name: 'Write it' }).click()
    await page.getByRole('heading', { name: 'New template' }).waitFor()
    await page.locator('#edit-subject').fill('Beleg {{ number }}')
    await page.locator('#edit-text').fill('Danke für Bestellung {{ number }}.')
    await typeContext(page, '{"number": 12}')
    await page.waitForFunction(
      () => document.querySelector('#preview-subject')?.textContent === 'Beleg 12',
    )
    await page.getByRole('button', { name: 'Save as a new version' }).click()
    await page.getByText('Saved de version 1').waitFor()
    expect(await outbox.admin.templates.show('receipt', 'de')).toMatchObject({
      version: 1,
      text: 'Danke für Bestellung {{ number }}.',
      html: null,
    })

    await page.goto(`${server.url}/#/templates/welcome?language=de`)
    // A new hash: the receipt's page (which has a "Delete de" too) stays until welcome's is drawn.
    await page.getByRole('heading', { name: 'welcome', exact: true }).waitFor()
    await page.getByRole('heading', { name: 'Versions (de)' }).waitFor()
    await page.getByRole('button', { name: 'Delete de' }).click()
    await page.waitForFunction(() => document.querySelectorAll('[data-language]').length === 1)
    expect(dialogs.at(-1)).toContain('Delete de of template welcome')
    const left = await outbox.admin.templates.get('welcome')
    expect(left.languages.map((l) => l.language)).toEqual(['en'])
  })
})
