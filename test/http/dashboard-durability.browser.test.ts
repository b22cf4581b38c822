/// <reference lib="dom" />
import { existsSync } from 'node:fs'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOutbox, startHttpServer, type HttpServer, type Outbox } from '../../src/index.js'
import {
  redisServerInstalled,
  startRedisServer,
  type TestRedisServer,
} from '../helpers/redis-server.js'
import { CHROMIUM, launchChromium } from '../helpers/chromium.js'

const available = existsSync(CHROMIUM) && redisServerInstalled()
if (!existsSync(CHROMIUM) && process.env.CI)
  throw new Error(`${CHROMIUM} is missing: .ci/run installs the chromium package`)

/**
 * A store that can lose acknowledged mail says so on the overview, not only in the log that
 * scrolled by at start: here a Redis without an append-only file.
 */
describe.skipIf(!available)('dashboard: a store that can lose mail', () => {
  let redis: TestRedisServer
  let outbox: Outbox
  let server: HttpServer
  let browser: Browser

  beforeAll(async () => {
    redis = await startRedisServer(['--appendonly', 'no', '--save', ''])
    outbox = await createOutbox({ store: `${redis.url}?prefix=dash:` })
    server = await startHttpServer(outbox, {
      listen: '127.0.0.1:0',
      upstream: { label: 'capture', capture: true },
    })
    browser = await launchChromium()
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await server?.close()
    await outbox?.close()
    await redis?.close()
  })

  it('shows the warning as an alert on the overview', async () => {
    const page = await browser.newPage()
    await page.goto(server.url)
    const alert = page.getByRole('alert').filter({ hasText: 'can lose mail' })
    await alert.waitFor()
    await expect(alert.textContent()).resolves.toMatch(/append/i)
  })
})
