import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createOutbox, type Outbox } from '../../src/index.js'
import { killStartedCli, startCli } from '../helpers/run-cli.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'
import { waitUntil } from '../helpers/temp.js'

/**
 * SIGHUP reloads a running daemon's config file: a bad one is refused and the process goes on
 * as it was; a good one changes the log level, routes and rate limits of the running workers.
 * Real processes, a real SQLite store and real SMTP sinks on 127.0.0.1.
 */

let cwd: string
let store: string
let sinkA: SmtpSink
let sinkB: SmtpSink
let outbox: Outbox
beforeEach(async () => {
  cwd = mkdtempSync(join(tmpdir(), 'outbox-reload-'))
  store = `sqlite:${join(cwd, 'queue.db')}`
  sinkA = await createSmtpSink()
  sinkB = await createSmtpSink()
  // Enqueues from this process; the daemon under test delivers.
  outbox = await createOutbox({ store })
})
afterEach(async () => {
  killStartedCli()
  await outbox.close()
  await sinkA.close()
  await sinkB.close()
  rmSync(cwd, { recursive: true, force: true })
})

const CONFIG = 'reload.config.json'
const writeConfig = (values: unknown) => writeFileSync(join(cwd, CONFIG), JSON.stringify(values))
/** Where mail goes at start: the default upstream (sink A); upstream b (sink B) has no route. */
const baseConfig = () => ({
  store,
  upstream: sinkA.url,
  upstreams: { b: sinkB.url },
  logLevel: 'info',
  smtp: { listen: '127.0.0.1:0' },
  http: { listen: '127.0.0.1:0' },
})
const mail = (to: string, subject: string) => ({ from: 'shop@example.com', to, subject, text: 'x' })

/** The JSON log lines the daemon wrote so far. */
function logLines(output: string): { level: number; msg: string; [key: string]: unknown }[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: number; msg: string })
}

/** Waits for the `count`th log line whose message starts with `prefix`; returns it. */
async function waitForLine(output: () => string, prefix: string, count = 1) {
  await waitUntil(
    () => logLines(output()).filter((l) => l.msg.startsWith(prefix)).length >= count,
    20_000,
    `log line #${count} "${prefix}…"; output so far:\n${output()}`,
  )
  return logLines(output()).filter((l) => l.msg.startsWith(prefix))[count - 1]!
}

async function stopCleanly(child: ChildProcess): Promise<void> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  expect(await exited).toBe(0)
}

describe('SIGHUP reloads the config of a running daemon', () => {
  it('refuses a bad file, keeps running on the old config, and still delivers', async () => {
    writeConfig(baseConfig())
    const { child, output } = await startCli(['worker', '--config', CONFIG], {
      cwd,
      readyText: 'outbox worker',
    })

    // Not JSON at all.
    writeFileSync(join(cwd, CONFIG), '{ "logLevel": "debug", ')
    child.kill('SIGHUP')
    const notJson = await waitForLine(output, 'config reload refused:', 1)
    expect(notJson.level).toBe(50)
    expect(notJson.msg).toMatch(
      /^config reload refused: reload\.config\.json: cannot read the config file: .*; keeping the running configuration$/,
    )

    // Valid JSON, every problem named on the one line.
    writeConfig({
      ...baseConfig(),
      logLevel: 'loud',
      routes: [{ match: { to: '@example.net' }, upstream: 'nosuch' }],
    })
    child.kill('SIGHUP')
    const invalid = await waitForLine(output, 'config reload refused:', 2)
    expect(invalid.msg).toContain('logLevel = "loud" from reload.config.json: expected')
    expect(invalid.msg).toContain(
      'routes[0].upstream = "nosuch": no such upstream (known: default, b)',
    )
    expect(invalid.msg).toMatch(/; keeping the running configuration$/)

    // A route to an upstream added in the file: it is not running, so that needs a restart.
    writeConfig({
      ...baseConfig(),
      upstreams: { b: sinkB.url, c: sinkB.url },
      routes: [{ match: { to: '@example.net' }, upstream: 'c' }],
    })
    child.kill('SIGHUP')
    const added = await waitForLine(output, 'config reload refused:', 3)
    expect(added.msg).toBe(
      'config reload refused: routes[0].upstream = "c": no upstream of that name is running (running: default, b); ' +
        'adding an upstream needs a restart; keeping the running configuration',
    )

    // Alive, and on the old config: no route, so example.net mail goes to the default upstream.
    expect(child.exitCode).toBeNull()
    await outbox.send(mail('x@example.net', 'after the refusals'))
    await sinkA.waitFor(1, 20_000)
    expect(sinkB.messages).toHaveLength(0)
    expect(sinkA.messages[0]!.to).toEqual(['x@example.net'])
    // Still at info: no debug line, and nothing was reloaded.
    expect(logLines(output()).some((l) => l.level < 30)).toBe(false)
    expect(output()).not.toContain('config reloaded')
    await stopCleanly(child)
  })

  it('applies a good file: log level, routes and rate limits; names what needs a restart', async () => {
    writeConfig(baseConfig())
    const { child, output } = await startCli(['start', '--config', CONFIG], {
      cwd,
      readyText: 'outbox start',
    })
    // Before: example.net mail goes to the default upstream, and no debug lines are written.
    await outbox.send(mail('before@example.net', 'before'))
    await sinkA.waitFor(1, 20_000)
    expect(logLines(output()).some((l) => l.level < 30)).toBe(false)

    writeConfig({
      ...baseConfig(),
      logLevel: 'debug',
      rateLimit: '100/s',
      routes: [{ match: { to: '@example.net' }, upstream: 'b' }],
      // One an hour: the first message takes the bucket's token, the next waits for its turn.
      domainLimits: { 'example.net': '1/h' },
      concurrency: 3,
    })
    child.kill('SIGHUP')
    const reloaded = await waitForLine(output, 'config reloaded:')
    expect(reloaded.level).toBe(30)
    expect(reloaded.msg).toBe(
      'config reloaded: logLevel info→debug, rateLimit none→100/s, routes changed, domainLimits.example.net none→1/h',
    )
    const restart = await waitForLine(output, 'concurrency')
    expect(restart).toMatchObject({ level: 40, msg: 'concurrency changed; restart to apply' })

    // After: the route takes example.net mail to upstream b, other mail still goes to default.
    await outbox.send(mail('one@example.net', 'routed'))
    await sinkB.waitFor(1, 20_000)
    expect(sinkB.messages[0]!.to).toEqual(['one@example.net'])
    await outbox.send(mail('other@example.com', 'not routed'))
    await sinkA.waitFor(2, 20_000)
    // The domain limit: the second example.net message is given back until its turn.
    const { id } = await outbox.send(mail('two@example.net', 'limited'))
    const limited = await waitForLine(output, 'over a rate limit')
    expect(limited).toMatchObject({ level: 20, id })
    expect(limited.limits).toEqual([expect.stringContaining('domain:example.net')])
    expect((await outbox.admin.getMessage(id)).status).toBe('queued')
    expect(sinkB.messages).toHaveLength(1)

    // The running dashboard API shows the new limits.
    const http = /dashboard on (http:\/\/\S+?);/.exec(output())?.[1]
    expect(http).toBeDefined()
    const overview = (await (await fetch(`${http}/api/upstreams`)).json()) as {
      upstreams: { name: string; rateLimit: string | null }[]
      domains: { domain: string; rateLimit: string }[]
    }
    expect(overview.upstreams.find((u) => u.name === 'default')?.rateLimit).toBe('100/s')
    expect(overview.domains).toEqual([
      expect.objectContaining({ domain: 'example.net', rateLimit: '1/h' }),
    ])

    // A reload with nothing new says so, and warns again of what still waits for a restart.
    child.kill('SIGHUP')
    const again = await waitForLine(output, 'config reloaded:', 2)
    expect(again.msg).toBe('config reloaded: nothing new to apply')
    await waitForLine(output, 'concurrency changed', 2)
    await stopCleanly(child)
  })
})
