import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSmtpSink, type SmtpSink } from './helpers/smtp-sink.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const run = promisify(execFile)

describe('the published package', () => {
  let app: string
  let sink: SmtpSink
  beforeAll(async () => {
    // An application folder with outbox installed, as npm would link it.
    app = mkdtempSync(join(tmpdir(), 'outbox-package-'))
    mkdirSync(join(app, 'node_modules'))
    symlinkSync(ROOT, join(app, 'node_modules', 'outbox'), 'dir')
    sink = await createSmtpSink()
  })
  afterAll(async () => {
    await sink.close()
    rmSync(app, { recursive: true, force: true })
  })

  it('can be loaded with require() from CommonJS, and sends', async () => {
    writeFileSync(
      join(app, 'app.cjs'),
      `const { createOutbox, InvalidMessageError } = require('outbox')
      ;(async () => {
        const outbox = await createOutbox({ store: 'sqlite:' + __dirname + '/q.db', upstream: process.env.UPSTREAM })
        const { id } = await outbox.send({ from: 'shop@example.com', to: 'ann@example.com', subject: 'From CommonJS', text: 'hi' })
        const counts = await outbox.drain()
        console.log(JSON.stringify({ id, counts, typed: typeof InvalidMessageError }))
        await outbox.close()
      })().catch((error) => { console.error(error); process.exit(1) })`,
    )
    const { stdout } = await run(process.execPath, ['app.cjs'], {
      cwd: app,
      env: { ...process.env, UPSTREAM: sink.url },
      timeout: 30_000,
    })
    const result = JSON.parse(stdout) as { counts: { sent: number }; typed: string }
    expect(result).toMatchObject({ counts: { sent: 1 }, typed: 'function' })
    expect(sink.messages).toHaveLength(1)
    expect(sink.messages[0]!.raw.toString()).toContain('Subject: From CommonJS')
  })

  it('can be imported from ESM by its name', async () => {
    writeFileSync(
      join(app, 'app.mjs'),
      `import { createOutbox } from 'outbox'\nimport { startHttpServer } from 'outbox/http'\n` +
        `console.log(typeof createOutbox, typeof startHttpServer)\n`,
    )
    const { stdout } = await run(process.execPath, ['app.mjs'], { cwd: app, timeout: 30_000 })
    expect(stdout.trim()).toBe('function function')
  })
})
