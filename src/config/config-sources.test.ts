import { describe, expect, it } from 'vitest'
import { CONFIG_DEFAULTS } from './config-schema.js'
import { mergeConfigSources, redactConfig } from './config-sources.js'
import { parseRateLimit } from './rate-limit.js'
import { parseSize } from './size.js'
import { redactUrl } from '../delivery/upstream.js'

describe('mergeConfigSources', () => {
  it('never prints a password from a URL inside a bad secret setting', () => {
    const result = mergeConfigSources({
      file: { path: 'outbox.config.json', values: { upstreams: ['smtp://u:leak1@h:25'] } },
      env: { OUTBOX_UPSTREAMS: '{"x":"smtp://u:leak2@h:25"' },
    })
    expect(result.problems).toHaveLength(2)
    expect(result.problems.join('\n')).not.toMatch(/leak/)
    expect(result.problems.join('\n')).toContain('smtp://u:***@h:25')
  })

  it('lets later sources win: defaults, file, environment, flags', () => {
    const result = mergeConfigSources({
      file: {
        path: 'outbox.config.json',
        values: {
          concurrency: 4,
          maxAge: '2h',
          upstream: 'smtp://file:25',
          retry: { maxDelay: '5m' },
        },
      },
      env: { OUTBOX_CONCURRENCY: '8', OUTBOX_UPSTREAM: 'smtp://env:25' },
      flags: { upstream: 'smtp://flag:25' },
    })
    expect(result.problems).toEqual([])
    expect(result.config).toMatchObject({
      concurrency: 8,
      maxAgeMs: 7_200_000,
      upstream: 'smtp://flag:25',
      retryMaxDelayMs: 300_000,
      store: CONFIG_DEFAULTS.store,
    })
    expect(result.sources).toMatchObject({
      concurrency: 'environment (OUTBOX_CONCURRENCY)',
      maxAgeMs: 'outbox.config.json (maxAge)',
      upstream: 'command line (--upstream)',
      store: 'default',
    })
  })

  it('reports every bad value with its key, source and what is expected', () => {
    const { problems } = mergeConfigSources({
      file: {
        path: 'cfg.json',
        values: { maxAge: 'forever', smtp: { listen: 'nowhere' }, colour: 'blue' },
      },
      env: { OUTBOX_CONCURRENCY: 'lots', OUTBOX_RATE_LIMIT: 'fast' },
      flags: { logLevel: 'loud' },
    })
    expect(problems).toEqual([
      'maxAge = "forever" from cfg.json: expected a duration of at least 1s, such as 30s, 15m, 24h or 7d',
      'smtp.listen = "nowhere" from cfg.json: expected host:port, such as 127.0.0.1:2525 or [::1]:2525',
      expect.stringMatching(
        /^colour from cfg\.json: unknown key \(known: store, upstream, .*smtp\.listen, .*logLevel, .*log\.failedFile\)$/,
      ),
      'OUTBOX_CONCURRENCY = "lots" from the environment: expected a whole number from 1 to 1000',
      'OUTBOX_RATE_LIMIT = "fast" from the environment: expected a rate such as 10/s, 600/m or 20000/h, or none',
      '--log-level = "loud" from the command line: expected one of fatal, error, warn, info, debug, trace, silent',
    ])
  })

  it('checks that the retry delays make sense together', () => {
    const { problems } = mergeConfigSources({
      env: { OUTBOX_RETRY_INITIAL_DELAY: '10m', OUTBOX_RETRY_MAX_DELAY: '1m' },
    })
    expect(problems).toEqual([
      'retry.maxDelay (1m) is shorter than retry.initialDelay (10m); make it at least as long',
    ])
  })
})

describe('redactConfig', () => {
  it('hides passwords in URLs', () => {
    const shown = redactConfig({
      ...CONFIG_DEFAULTS,
      upstream: 'smtp://user:s3cret@smtp.example.com:587',
      store: 'postgres://app:pw@db/outbox',
    })
    expect(JSON.stringify(shown)).not.toMatch(/s3cret|:pw@/)
    expect(shown.upstream).toBe('smtp://user:***@smtp.example.com:587')
  })
})

describe('value parsers', () => {
  it.each([
    ['25MB', 26_214_400],
    ['512kb', 524_288],
    ['1024', 1024],
    [2048, 2048],
    ['lots', undefined],
  ])('parseSize(%j) = %j', (input, bytes) => expect(parseSize(input)).toBe(bytes))

  it.each([
    ['10/s', { count: 10, perMs: 1000 }],
    ['600 / m', { count: 600, perMs: 60_000 }],
    ['0/s', undefined],
    ['10/d', undefined],
  ])('parseRateLimit(%j) = %j', (input, limit) => expect(parseRateLimit(input)).toEqual(limit))
})

describe('redactUrl', () => {
  it.each([
    ['smtp://user:pass@host:587', 'smtp://user:***@host:587'],
    ['smtps://u%40x:p%3Aw@h', 'smtps://u%40x:***@h'],
    ['smtp://host:25', 'smtp://host:25'],
    ['http://x', 'http://x'],
    [
      'postgres://app:secret@db/outbox?sslmode=require',
      'postgres://app:***@db/outbox?sslmode=require',
    ],
  ])('%s → %s', (url, shown) => expect(redactUrl(url)).toBe(shown))
})
