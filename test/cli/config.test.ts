import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { runCli } from '../helpers/run-cli.js'

let cwd: string
beforeEach(() => {
  cwd = mkdtempSync(join(tmpdir(), 'outbox-cli-'))
})
afterEach(() => rmSync(cwd, { recursive: true, force: true }))

const config = async (args: string[] = [], env: Record<string, string> = {}) => {
  const result = await runCli(['config', '--json', ...args], { cwd, env })
  expect(result.stderr).toBe('')
  expect(result.code).toBe(0)
  return JSON.parse(result.stdout) as {
    config: Record<string, unknown>
    sources: Record<string, string>
  }
}

describe('configuration precedence: defaults, file, environment, flags', () => {
  it('uses the defaults with nothing set', async () => {
    const { config: c, sources } = await config()
    expect(c).toMatchObject({
      store: 'sqlite:./outbox.db',
      upstream: 'capture',
      concurrency: 10,
      maxAgeMs: 86_400_000,
    })
    expect(Object.values(sources).every((s) => s === 'default')).toBe(true)
  })

  it('lets each later source win, key by key', async () => {
    writeFileSync(
      join(cwd, 'outbox.config.json'),
      JSON.stringify({
        concurrency: 3,
        maxAge: '2h',
        upstream: 'smtp://file.example:25',
        retry: { maxDelay: '10m' },
        logLevel: 'warn',
      }),
    )
    const { config: c, sources } = await config(['--upstream', 'smtp://flag.example:25'], {
      OUTBOX_CONCURRENCY: '7',
      OUTBOX_UPSTREAM: 'smtp://env.example:25',
    })
    expect(c).toMatchObject({
      concurrency: 7,
      maxAgeMs: 7_200_000,
      retryMaxDelayMs: 600_000,
      logLevel: 'warn',
      upstream: 'smtp://flag.example:25',
    })
    expect(sources).toMatchObject({
      concurrency: 'environment (OUTBOX_CONCURRENCY)',
      maxAgeMs: 'outbox.config.json (maxAge)',
      upstream: 'command line (--upstream)',
      store: 'default',
    })
  })

  it('sets the SMTP slot limits and deadlines like any other key', async () => {
    writeFileSync(
      join(cwd, 'outbox.config.json'),
      JSON.stringify({ smtp: { maxClients: 40, envelopeTimeout: '90s' } }),
    )
    const { config: c, sources } = await config(
      ['--smtp-outside-client-share', '50%', '--smtp-command-timeout', '10s'],
      { OUTBOX_SMTP_CONNECTIONS_PER_CLIENT: '4', OUTBOX_SMTP_DATA_TIMEOUT: '2m' },
    )
    expect(c).toMatchObject({
      smtpMaxClients: 40,
      smtpConnectionsPerClient: 4,
      smtpOutsideClientShare: 50,
      smtpCommandTimeoutMs: 10_000,
      smtpEnvelopeTimeoutMs: 90_000,
      smtpDataTimeoutMs: 120_000,
    })
    expect(sources).toMatchObject({
      smtpEnvelopeTimeoutMs: 'outbox.config.json (smtp.envelopeTimeout)',
      smtpConnectionsPerClient: 'environment (OUTBOX_SMTP_CONNECTIONS_PER_CLIENT)',
      smtpOutsideClientShare: 'command line (--smtp-outside-client-share)',
    })
  })

  it('sets the upstream connection reuse limits like any other key', async () => {
    const defaults = (await config()).config
    expect(defaults).toMatchObject({
      upstreamMaxMessagesPerConnection: 100,
      upstreamMaxConnectionAgeMs: 300_000,
    })
    writeFileSync(
      join(cwd, 'outbox.config.json'),
      JSON.stringify({ upstreamConnection: { maxMessages: 20 } }),
    )
    const { config: c, sources } = await config([], { OUTBOX_UPSTREAM_CONNECTION_MAX_AGE: '90s' })
    expect(c).toMatchObject({
      upstreamMaxMessagesPerConnection: 20,
      upstreamMaxConnectionAgeMs: 90_000,
    })
    expect(sources).toMatchObject({
      upstreamMaxMessagesPerConnection: 'outbox.config.json (upstreamConnection.maxMessages)',
      upstreamMaxConnectionAgeMs: 'environment (OUTBOX_UPSTREAM_CONNECTION_MAX_AGE)',
    })
    const bad = await runCli(['config', '--upstream-connection-max-messages', '0'], { cwd })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(
      /--upstream-connection-max-messages = "0" from the command line: expected a whole number/,
    )
  })

  it('reads --config PATH, and OUTBOX_CONFIG', async () => {
    writeFileSync(join(cwd, 'other.json'), JSON.stringify({ rateLimit: '600/m' }))
    expect((await config(['--config', 'other.json'])).config.rateLimit).toEqual({
      count: 600,
      perMs: 60_000,
    })
    expect(
      (await config([], { OUTBOX_CONFIG: join(cwd, 'other.json') })).sources.rateLimit,
    ).toMatch(/other\.json/)
  })

  it('prints secrets redacted', async () => {
    const human = await runCli(
      ['config', '--upstream', 'smtp://mailer:hunter2@smtp.example.com:587'],
      { cwd },
    )
    expect(human.code).toBe(0)
    expect(human.stdout).toContain('smtp://mailer:***@smtp.example.com:587')
    expect(human.stdout).not.toContain('hunter2')
    expect(human.stdout).toMatch(
      /upstream\s+smtp:\/\/mailer:\*\*\*@smtp\.example\.com:587\s+command line \(--upstream\)/,
    )
  })
})

describe('a wrong value stops the program with one line per problem and exit code 2', () => {
  it.each([
    [
      'a bad environment value',
      [],
      { OUTBOX_CONCURRENCY: 'many' },
      null,
      'OUTBOX_CONCURRENCY = "many" from the environment: expected a whole number from 1 to 1000',
    ],
    [
      'a bad duration',
      [],
      { OUTBOX_MAX_AGE: 'forever' },
      null,
      'OUTBOX_MAX_AGE = "forever" from the environment: expected a duration',
    ],
    [
      'a bad size',
      ['--max-message-size', 'huge'],
      {},
      null,
      '--max-message-size = "huge" from the command line: expected a size',
    ],
    [
      'a bad rate',
      ['--rate-limit', 'fast'],
      {},
      null,
      '--rate-limit = "fast" from the command line: expected a rate',
    ],
    [
      'a bad listen address',
      [],
      { OUTBOX_SMTP_LISTEN: 'localhost' },
      null,
      'OUTBOX_SMTP_LISTEN = "localhost" from the environment: expected host:port',
    ],
    [
      'a share over 100 %',
      ['--smtp-outside-client-share', '120%'],
      {},
      null,
      '--smtp-outside-client-share = "120%" from the command line: expected a percentage from 0 to 100',
    ],
    [
      'a bad upstream',
      ['--upstream', 'http://x'],
      {},
      null,
      '--upstream = "http://x" from the command line: expected capture, or an smtp:// or smtps:// URL',
    ],
    [
      'a bad log level',
      [],
      { OUTBOX_LOG_LEVEL: 'loud' },
      null,
      'OUTBOX_LOG_LEVEL = "loud" from the environment: expected one of',
    ],
    [
      'a bad file value',
      [],
      {},
      { concurrency: 0 },
      'concurrency = 0 from outbox.config.json: expected a whole number',
    ],
    [
      'an unknown file key',
      [],
      {},
      { concurency: 4 },
      'concurency from outbox.config.json: unknown key',
    ],
    [
      'a file that is not JSON',
      [],
      {},
      'not json {',
      'outbox.config.json: cannot read the config file',
    ],
    [
      'inconsistent retry delays',
      ['--retry-initial-delay', '1h', '--retry-max-delay', '1m'],
      {},
      null,
      'retry.maxDelay (1m) is shorter than retry.initialDelay (1h)',
    ],
  ])('%s', async (_name, args, env, file, line) => {
    if (file !== null)
      writeFileSync(
        join(cwd, 'outbox.config.json'),
        typeof file === 'string' ? file : JSON.stringify(file),
      )
    const result = await runCli(['list', ...(args as string[])], {
      cwd,
      env: env,
    })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(line)
    expect(result.stderr).not.toMatch(/\n\s+at /) // no stack trace
  })

  it('lists every problem at once', async () => {
    const result = await runCli(['list', '--log-level', 'loud'], {
      cwd,
      env: { OUTBOX_CONCURRENCY: 'x', OUTBOX_MAX_AGE: 'y' },
    })
    expect(result.code).toBe(2)
    expect(result.stderr.trim().split('\n')).toHaveLength(4)
  })

  it('names a missing --config file', async () => {
    const result = await runCli(['list', '--config', 'missing.json'], { cwd })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('missing.json: cannot read the config file: no such file')
  })
})

describe('help', () => {
  it.each([
    'start',
    'worker',
    'dashboard',
    'send',
    'send-template',
    'templates',
    'list',
    'show',
    'retry',
    'hold',
    'release',
    'delete',
    'purge',
    'stats',
    'migrate',
    'backup',
    'doctor',
    'config',
  ])('outbox %s --help', async (command) => {
    const result = await runCli([command, '--help'], { cwd })
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(new RegExp(`Usage: outbox ${command}`))
  })

  it('an unknown command is a usage error', async () => {
    const result = await runCli(['frobnicate'], { cwd })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("unknown command 'frobnicate'")
  })
})
