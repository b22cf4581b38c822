import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createOutbox } from '../../src/index.js'
import { runCli } from '../helpers/run-cli.js'
import { createSmtpSink } from '../helpers/smtp-sink.js'

let cwd: string
beforeEach(() => {
  cwd = mkdtempSync(join(tmpdir(), 'outbox-cli-routing-'))
})
afterEach(() => rmSync(cwd, { recursive: true, force: true }))

const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { cwd, env })
const writeConfig = (values: unknown) =>
  writeFileSync(join(cwd, 'outbox.config.json'), JSON.stringify(values))

/** The problem lines of an `invalid configuration` error (exit code 2). */
function problemLines(result: { code: number | null; stdout: string; stderr: string }): string[] {
  expect(result.code).toBe(2)
  expect(result.stdout).toBe('')
  const [head, ...lines] = result.stderr.trimEnd().split('\n')
  expect(head).toBe('outbox: invalid configuration:')
  expect(result.stderr).not.toMatch(/\n\s+at /) // no stack trace
  return lines.map((l) => l.trim())
}

const valid = {
  store: 'sqlite:./queue.db',
  upstream: 'smtp://mailer:relaypass@relay.example:587',
  rateLimit: '10/s',
  upstreams: {
    ses: {
      url: 'smtp://AKIAEXAMPLE:sespassword@email-smtp.eu-west-1.example:587',
      rateLimit: '14/s',
      maxConnections: 4,
    },
    backup: 'smtps://backup:backuppass@backup.example:465',
    bulk: { url: 'smtp://bulk.example:25', rateLimit: '20000/h' },
  },
  routes: [
    { match: { from: '@news.shop.example', tag: 'newsletter' }, upstream: 'bulk' },
    { match: { to: ['@gmail.com', '@googlemail.com'] }, upstream: 'ses', fallback: ['backup'] },
  ],
  domainLimits: { 'gmail.com': '100/m', 'Yahoo.com': '5/s' },
}
const passwords = ['relaypass', 'sespassword', 'backuppass']

describe('a bad routing config stops the program: exit 2, one line per problem', () => {
  const broken = {
    upstreams: { ses: { url: 'smtp://ses.example:587', rateLimit: '14 per second' } },
    routes: [
      { match: { to: '@gmail.com' }, upstream: 'sess' },
      { match: { to: 'yahoo.com' }, upstream: 'default' },
    ],
  }
  const expected = [
    'upstreams.ses.rateLimit = "14 per second": expected a rate such as 14/s, 100/m or 20000/h',
    'routes[0].upstream = "sess": no such upstream (known: default)',
    'routes[1].match.to = "yahoo.com" matches nothing: a domain is written with its @ ("@yahoo.com"), an address in full',
  ]

  it.each([['config'], ['stats'], ['upstreams']])('outbox %s', async (command) => {
    writeConfig(broken)
    expect(problemLines(await cli([command]))).toEqual(expected)
  })

  it('the same problems given as JSON in OUTBOX_ROUTES and OUTBOX_UPSTREAMS', async () => {
    const result = await cli(['config'], {
      OUTBOX_UPSTREAMS: JSON.stringify(broken.upstreams),
      OUTBOX_ROUTES: JSON.stringify(broken.routes),
    })
    expect(problemLines(result)).toEqual(expected)
  })

  it('OUTBOX_ROUTES overrides the file, and its problems are reported', async () => {
    writeConfig(valid)
    const result = await cli(['stats'], {
      OUTBOX_ROUTES: JSON.stringify([{ upstream: 'ses', fallback: ['ses'] }, { upstream: 'bulk' }]),
    })
    expect(problemLines(result)).toEqual([
      'routes[0].fallback[0] = "ses": already tried earlier in this route; list each upstream once',
      'routes[1] matches nothing ever: routes[0] has no match, so it takes all mail first; put it last',
    ])
  })

  it('invalid JSON in OUTBOX_ROUTES and OUTBOX_DOMAIN_LIMITS', async () => {
    const result = await cli(['config'], {
      OUTBOX_ROUTES: '[{"upstream": "ses"',
      OUTBOX_DOMAIN_LIMITS: '{"gmail.com": 100/m}',
    })
    const lines = problemLines(result)
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatch(/^OUTBOX_ROUTES = .* from the environment: expected a list of routes/)
    expect(lines[1]).toMatch(
      /^OUTBOX_DOMAIN_LIMITS = .* from the environment: expected an object of domain → rate/,
    )
  })

  it('domain limits with a bad domain and a bad rate, from the file', async () => {
    writeConfig({ domainLimits: { 'gmail com': '100/m', 'yahoo.com': '100/minute' } })
    expect(problemLines(await cli(['config']))).toEqual([
      'domainLimits.gmail com: not a domain name',
      'domainLimits.yahoo.com = "100/minute": expected a rate such as 14/s, 100/m or 20000/h',
    ])
  })

  it('an upstream URL that is not SMTP, its password redacted', async () => {
    writeConfig({ upstreams: { api: 'https://key:apisecret@api.example/v3' } })
    const lines = problemLines(await cli(['config']))
    expect(lines).toEqual([
      'upstreams.api.url = "https://key:***@api.example/v3": expected capture, or an smtp:// or smtps:// URL',
    ])
  })
})

describe('a valid routing config', () => {
  it('outbox config shows upstreams, routes and domain limits, passwords redacted', async () => {
    writeConfig(valid)
    const human = await cli(['config'])
    expect(human.stderr).toBe('')
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(
      /^upstreams\s+\{"ses":\{"url":"smtp:\/\/AKIAEXAMPLE:\*\*\*@email-smtp\.eu-west-1\.example:587".*"backup":"smtps:\/\/backup:\*\*\*@backup\.example:465".*\s+outbox\.config\.json \(upstreams\)$/m,
    )
    expect(human.stdout).toMatch(/^routes\s+\[\{"match":\{"from":"@news\.shop\.example"/m)
    expect(human.stdout).toMatch(/^domainLimits\s+\{"gmail\.com":"100\/m","Yahoo\.com":"5\/s"\}/m)
    expect(human.stdout).toMatch(/^rateLimit\s+10\/s\s/m)
    for (const p of passwords) expect(human.stdout).not.toContain(p)

    const json = await cli(['config', '--json'])
    expect(json.code).toBe(0)
    const { config, sources } = JSON.parse(json.stdout) as {
      config: Record<string, unknown>
      sources: Record<string, string>
    }
    expect(config.upstreams).toEqual({
      ses: {
        url: 'smtp://AKIAEXAMPLE:***@email-smtp.eu-west-1.example:587',
        rateLimit: '14/s',
        maxConnections: 4,
      },
      backup: 'smtps://backup:***@backup.example:465',
      bulk: { url: 'smtp://bulk.example:25', rateLimit: '20000/h' },
    })
    expect(config.routes).toEqual(valid.routes)
    expect(config.domainLimits).toEqual(valid.domainLimits)
    expect(sources).toMatchObject({
      upstreams: 'outbox.config.json (upstreams)',
      routes: 'outbox.config.json (routes)',
      domainLimits: 'outbox.config.json (domainLimits)',
    })
    for (const p of passwords) expect(json.stdout).not.toContain(p)
  })

  it('outbox upstreams lists every configured upstream and the limited domains', async () => {
    writeConfig(valid)
    expect((await cli(['migrate'])).code).toBe(0)

    const human = await cli(['upstreams'])
    expect(human.stderr).toBe('')
    expect(human.code).toBe(0)
    const lines = human.stdout.split('\n')
    expect(lines[0]).toMatch(
      /^UPSTREAM\s+STATE\s+RATE\s+CONNECTIONS\s+SENT\/1H\s+DEFERRED\/1H\s+FAILED\/1H$/,
    )
    expect(human.stdout).toMatch(
      /^default\s+unknown \(no worker running\)\s+10\/s\s+0\s+0\s+0\s+0$/m,
    )
    expect(human.stdout).toMatch(
      /^ses\s+unknown \(no worker running\)\s+14\/s\s+0 of 4\s+0\s+0\s+0$/m,
    )
    expect(human.stdout).toMatch(/^backup\s+unknown \(no worker running\)\s+unlimited\s+0\s/m)
    expect(human.stdout).toMatch(/^bulk\s+unknown \(no worker running\)\s+20000\/h\s+0\s/m)
    expect(human.stdout).toMatch(/^DOMAIN\s+RATE$/m)
    expect(human.stdout).toMatch(/^gmail\.com\s+100\/m$/m)
    expect(human.stdout).toMatch(/^yahoo\.com\s+5\/s$/m)
    for (const p of passwords) expect(human.stdout).not.toContain(p)

    const json = await cli(['upstreams', '--json'])
    expect(json.code).toBe(0)
    const overview = JSON.parse(json.stdout) as {
      upstreams: Record<string, unknown>[]
      domains: Record<string, unknown>[]
    }
    expect(overview.upstreams.map((u) => u.name)).toEqual(['default', 'ses', 'backup', 'bulk'])
    expect(overview.upstreams.every((u) => u.state === 'unknown' && u.workers === 0)).toBe(true)
    expect(overview.upstreams.find((u) => u.name === 'ses')).toMatchObject({
      rateLimit: '14/s',
      configuredRatePerSec: 14,
      currentRatePerSec: 14,
      maxConnections: 4,
      connections: 0,
      lastHour: { sent: 0, deferred: 0, failed: 0 },
      lastError: null,
    })
    expect(overview.upstreams.find((u) => u.name === 'backup')).toMatchObject({
      rateLimit: null,
      configuredRatePerSec: null,
    })
    expect(overview.domains).toEqual([
      {
        domain: 'gmail.com',
        rateLimit: '100/m',
        configuredRatePerSec: 100 / 60,
        currentRatePerSec: 100 / 60,
        throttledAt: null,
      },
      {
        domain: 'yahoo.com',
        rateLimit: '5/s',
        configuredRatePerSec: 5,
        currentRatePerSec: 5,
        throttledAt: null,
      },
    ])
  })
})

describe('outbox show names the upstream of each attempt', () => {
  it('via the route’s upstream, and the message’s own upstream option', async () => {
    const sink = await createSmtpSink()
    const store = `sqlite:${join(cwd, 'queue.db')}`
    const env = {
      OUTBOX_STORE: store,
      OUTBOX_UPSTREAMS: JSON.stringify({ ses: sink.url }),
      OUTBOX_ROUTES: JSON.stringify([{ match: { to: '@gmail.com' }, upstream: 'ses' }]),
    }
    const outbox = await createOutbox({
      store,
      upstreams: { ses: sink.url },
      routes: [{ match: { to: '@gmail.com' }, upstream: 'ses' }],
    })
    try {
      const mail = { from: 'shop@example.com', subject: 'Hi', text: 'x' }
      const routed = await outbox.send({ ...mail, to: 'a@gmail.com' })
      const captured = await outbox.send({ ...mail, to: 'b@example.org' })
      const chosen = await outbox.send({ ...mail, to: 'c@example.org' }, { upstream: 'ses' })
      expect(await outbox.drain()).toMatchObject({ sent: 3 })
      expect(sink.messages).toHaveLength(2)

      const show = async (id: string) => {
        const result = await cli(['show', id], env)
        expect(result.stderr).toBe('')
        expect(result.code).toBe(0)
        return result.stdout
      }
      const viaRoute = await show(routed.id)
      expect(viaRoute).toMatch(/^ {2}1\. \S+\s+sent\s+\d+ ms\s+by \S+\s+via ses$/m)
      expect(viaRoute).not.toMatch(/^ {2}Upstream\s/m)

      expect(await show(captured.id)).toMatch(/^ {2}1\. \S+\s+captured\s+.*\s+via default$/m)

      const viaOption = await show(chosen.id)
      expect(viaOption).toMatch(/^ {2}Upstream\s+ses \(send option\)$/m)
      expect(viaOption).toMatch(/^ {2}1\. \S+\s+sent\s+.*\s+via ses$/m)
    } finally {
      await outbox.close()
      await sink.close()
    }
  })
})
