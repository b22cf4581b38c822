import nodemailer from 'nodemailer'
import { afterEach, describe, expect, it } from 'vitest'
import {
  ConfigError,
  createOutbox,
  ErrorCodes,
  InvalidMessageError,
  type Outbox,
  type OutboxOptions,
} from '../src/index.js'
import { tempSqliteUrl } from './helpers/temp.js'

let outbox: Outbox | null = null
afterEach(async () => {
  await outbox?.close()
  outbox = null
})

const mail = { from: 'shop@example.com', to: 'a@example.com', subject: 'Hi', text: 'x' }

async function configError(options: OutboxOptions): Promise<ConfigError> {
  const error = await createOutbox({ store: tempSqliteUrl(), ...options }).then(
    (o) => {
      outbox = o
      throw new Error('createOutbox() accepted the options')
    },
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(ConfigError)
  expect((error as ConfigError).code).toBe(ErrorCodes.INVALID_CONFIG)
  return error as ConfigError
}

async function countStored(o: Outbox): Promise<number> {
  const counts = await o.admin.countByStatus()
  return Object.values(counts).reduce((a, b) => a + b, 0)
}

describe('createOutbox() refuses bad routing options, naming the option', () => {
  it('a route to an unknown upstream', async () => {
    const error = await configError({ routes: [{ upstream: 'nope' }] })
    expect(error.key).toBe('routes[0].upstream')
    expect(error.message).toBe(
      'Option routes[0].upstream = "nope": no such upstream (known: default).',
    )
  })

  it.each<[string, OutboxOptions, string, string]>([
    [
      'an unknown fallback',
      { upstreams: { ses: 'smtp://ses:25' }, routes: [{ upstream: 'ses', fallback: ['gone'] }] },
      'routes[0].fallback[0]',
      'no such upstream (known: default, ses)',
    ],
    [
      'a bad rate',
      { upstreams: { ses: { url: 'smtp://ses:25', rateLimit: '14 a second' } } },
      'upstreams.ses.rateLimit',
      'expected a rate such as 14/s',
    ],
    [
      'a bad maxConnections',
      { upstreams: { ses: { url: 'smtp://ses:25', maxConnections: 0 } } },
      'upstreams.ses.maxConnections',
      'expected a whole number from 1 to 1000',
    ],
    [
      '`default` as a name',
      { upstreams: { default: 'smtp://other:25' } },
      'upstreams.default',
      '"default" is the upstream of the `upstream` setting',
    ],
    [
      'a domain without @',
      { routes: [{ match: { to: 'gmail.com' }, upstream: 'default' }] },
      'routes[0].match.to',
      'matches nothing: a domain is written with its @ ("@gmail.com")',
    ],
    [
      'a bad domain limit',
      { domainLimits: { 'gmail.com': 'lots' } },
      'domainLimits.gmail.com',
      'expected a rate such as 14/s',
    ],
  ])('%s', async (_name, options, key, text) => {
    const error = await configError(options)
    expect(error.key).toBe(key)
    expect(error.message).toContain(text)
  })

  it('several problems: one line each, the key naming the first', async () => {
    const error = await configError({
      upstreams: { ses: { url: 'smtp://user:hunter2@ses:25', rateLimit: 'x' } },
      routes: [{ match: { to: 'gmail.com' }, upstream: 'nope' }],
      domainLimits: { 'a b': '1/s' },
    })
    expect(error.key).toBe('upstreams.ses.rateLimit')
    expect(error.message.split('\n')).toEqual([
      'Routing options have 4 problems:',
      '  upstreams.ses.rateLimit = "x": expected a rate such as 14/s, 100/m or 20000/h',
      '  routes[0].match.to = "gmail.com" matches nothing: a domain is written with its @ ("@gmail.com"), an address in full',
      '  routes[0].upstream = "nope": no such upstream (known: default)',
      '  domainLimits.a b: not a domain name',
    ])
    expect(error.message).not.toContain('hunter2')
  })

  it('accepts transports and SMTP options as named upstreams', async () => {
    outbox = await createOutbox({
      store: tempSqliteUrl(),
      upstreams: {
        app: nodemailer.createTransport({ jsonTransport: true }),
        relay: { url: { host: '127.0.0.1', port: 25 }, maxConnections: 2, rateLimit: '5/s' },
      },
      routes: [{ match: { tag: 'app' }, upstream: 'app', fallback: ['relay'] }],
      domainLimits: { 'gmail.com': '100/m' },
    })
    expect(
      outbox
        .upstreamHealth()
        .upstreams.map((u) => u.name)
        .sort(),
    ).toEqual(['app', 'default', 'relay'])
  })
})

describe('send() refuses an upstream that is not configured', () => {
  it('names options.upstream and stores nothing', async () => {
    outbox = await createOutbox({ store: tempSqliteUrl(), upstreams: { ses: 'capture' } })
    const error = await outbox.send(mail, { upstream: 'nope' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InvalidMessageError)
    expect(error).toMatchObject({
      code: ErrorCodes.INVALID_MESSAGE,
      field: 'options.upstream',
      message: '`options.upstream` names no configured upstream: "nope" (known: default, ses).',
    })
    expect(await countStored(outbox)).toBe(0)
  })

  it('in a batch, names the item and stores none of it', async () => {
    outbox = await createOutbox({ store: tempSqliteUrl(), upstreams: { ses: 'capture' } })
    const error = await outbox
      .sendMany([
        { mail, options: { upstream: 'ses' } },
        { mail, options: { upstream: 'SES' } },
      ])
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InvalidMessageError)
    expect((error as InvalidMessageError).field).toBe('[1].options.upstream')
    expect(await countStored(outbox)).toBe(0)
  })

  it('refuses a value that cannot be a name', async () => {
    outbox = await createOutbox({ store: tempSqliteUrl() })
    const error = await outbox.send(mail, { upstream: 'smtp://relay:25' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InvalidMessageError)
    expect((error as InvalidMessageError).field).toBe('options.upstream')
    expect(await countStored(outbox)).toBe(0)
  })

  it('stores a message naming a configured upstream, and shows it', async () => {
    outbox = await createOutbox({ store: tempSqliteUrl(), upstreams: { ses: 'capture' } })
    const { id } = await outbox.send(mail, { upstream: 'ses' })
    expect((await outbox.admin.getMessage(id)).upstream).toBe('ses')
    const plain = await outbox.send(mail)
    expect((await outbox.admin.getMessage(plain.id)).upstream).toBeNull()
  })
})
