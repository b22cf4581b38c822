import { generateKeyPairSync } from 'node:crypto'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../errors.js'
import { resolveDkimSettings, type DkimKeyInput } from './dkim-settings.js'
import { resolveOutboxOptions } from './outbox-options.js'

const pem = (key: { export(o: { type: 'pkcs8'; format: 'pem' }): string | Buffer }) =>
  key.export({ type: 'pkcs8', format: 'pem' }).toString()
const rsa = pem(generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey)
const rsaPkcs1 = generateKeyPairSync('rsa', { modulusLength: 1024 })
  .privateKey.export({ type: 'pkcs1', format: 'pem' })
  .toString()
const rsa512 = pem(generateKeyPairSync('rsa', { modulusLength: 512 }).privateKey)
const ed25519 = pem(generateKeyPairSync('ed25519').privateKey)
const ec = pem(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey)

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'outbox-dkim-settings-'))
  writeFileSync(join(dir, 'rsa.pem'), rsa, { mode: 0o600 })
  writeFileSync(join(dir, 'garbage.pem'), 'this is not a key\n')
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const entry = (privateKey: unknown, more: Record<string, unknown> = {}) =>
  ({ domain: 'example.com', selector: 's1', privateKey, ...more }) as DkimKeyInput
const problems = (input: unknown, env: Record<string, string> = {}) =>
  resolveDkimSettings(input, { env, cwd: dir }).problems

describe('resolveDkimSettings: valid keys', () => {
  it('has no keys when unset', () => {
    expect(resolveDkimSettings(undefined)).toEqual({ settings: { keys: [] }, problems: [] })
    expect(resolveDkimSettings(null).settings.keys).toEqual([])
  })

  it('reads PEM text, file: (relative to the working folder) and env: keys', () => {
    const { settings, problems: p } = resolveDkimSettings(
      [
        entry(rsa, { domain: 'Example.COM' }),
        entry('file:rsa.pem', { domain: 'b.example' }),
        entry(`file:${join(dir, 'rsa.pem')}`, { domain: 'c.example' }),
        entry('env:DKIM_KEY', { domain: 'd.example', algorithm: 'ed25519-sha256' }),
        entry(rsaPkcs1, { domain: 'e.example' }),
        entry(Buffer.from(rsa), { domain: 'f.example', headers: ['From', 'To', 'subject'] }),
      ],
      { env: { DKIM_KEY: ed25519 }, cwd: dir },
    )
    expect(p).toEqual([])
    expect(
      settings.keys.map((k) => [k.domain, k.selector, k.algorithm, k.source, k.headers]),
    ).toEqual([
      ['example.com', 's1', 'rsa-sha256', 'inline PEM', null],
      ['b.example', 's1', 'rsa-sha256', `file:${join(dir, 'rsa.pem')}`, null],
      ['c.example', 's1', 'rsa-sha256', `file:${join(dir, 'rsa.pem')}`, null],
      ['d.example', 's1', 'ed25519-sha256', 'env:DKIM_KEY', null],
      ['e.example', 's1', 'rsa-sha256', 'inline PEM', null],
      ['f.example', 's1', 'rsa-sha256', 'inline PEM', ['from', 'to', 'subject']],
    ])
    expect(settings.keys[3]!.privateKey.asymmetricKeyType).toBe('ed25519')
  })

  it('takes a PEM in a one-line variable, written with \\n', () => {
    const oneLine = ed25519.trim().replace(/\n/g, '\\n')
    const { problems: p, settings } = resolveDkimSettings(
      [entry('env:K', { algorithm: 'ed25519-sha256' })],
      { env: { K: oneLine } },
    )
    expect(p).toEqual([])
    expect(settings.keys).toHaveLength(1)
  })

  it('puts an internationalised domain in punycode', () => {
    const { settings } = resolveDkimSettings([entry(rsa, { domain: 'bücher.example' })])
    expect(settings.keys[0]!.domain).toBe('xn--bcher-kva.example')
  })
})

describe('resolveDkimSettings: problems name the entry, the field and the domain', () => {
  it.each([
    [
      'an unreadable file',
      entry('file:missing.pem'),
      /^dkim\[0\]\.privateKey \(example\.com\): cannot read file:.*missing\.pem: no such file; check the path$/,
    ],
    [
      'a garbage PEM',
      entry('file:garbage.pem'),
      /^dkim\[0\]\.privateKey \(example\.com\) from file:.*garbage\.pem: not a PEM private key .*outbox dkim generate/,
    ],
    [
      'a 512-bit RSA key',
      entry(rsa512),
      /^dkim\[0\]\.privateKey \(example\.com\) from inline PEM: a 512-bit RSA key: receivers ignore signatures by keys under 1024 bits/,
    ],
    [
      'an ed25519 key with rsa-sha256',
      entry(ed25519),
      /^dkim\[0\]\.privateKey \(example\.com\) from inline PEM: an ed25519 key, but algorithm is rsa-sha256; set algorithm to "ed25519-sha256", or use an rsa key$/,
    ],
    [
      'an RSA key with ed25519-sha256',
      entry(rsa, { algorithm: 'ed25519-sha256' }),
      /an rsa key, but algorithm is ed25519-sha256; set algorithm to "rsa-sha256"/,
    ],
    ['an EC key', entry(ec), /a key of type ec; DKIM signs with rsa \(rsa-sha256\) or ed25519/],
    [
      'a missing variable',
      entry('env:NOPE'),
      /^dkim\[0\]\.privateKey \(example\.com\): environment variable NOPE is not set; set it to the PEM text of the private key$/,
    ],
    [
      'no key',
      entry(undefined),
      /^dkim\[0\]\.privateKey \(example\.com\): missing: give file:PATH, env:VARIABLE or the PEM text/,
    ],
    [
      'something else',
      entry('s3cr3t-base64-blob'),
      /^dkim\[0\]\.privateKey \(example\.com\): not a key reference/,
    ],
    [
      'a bad selector',
      entry(rsa, { selector: 'has space' }),
      /^dkim\[0\]\.selector \(example\.com\) = "has space": expected a DNS label/,
    ],
    [
      'a bad domain',
      entry(rsa, { domain: 'not a domain' }),
      /^dkim\[0\]\.domain = "not a domain": expected the domain/,
    ],
    [
      'a bad algorithm',
      entry(rsa, { algorithm: 'rsa-sha1' }),
      /^dkim\[0\]\.algorithm \(example\.com\) = "rsa-sha1": expected one of rsa-sha256, ed25519-sha256$/,
    ],
    [
      'headers without from',
      entry(rsa, { headers: ['to', 'subject'] }),
      /^dkim\[0\]\.headers \(example\.com\): must include "from"/,
    ],
    [
      'headers not a list',
      entry(rsa, { headers: 'from' }),
      /^dkim\[0\]\.headers \(example\.com\) = "from": expected a list of header field names/,
    ],
    [
      'an unknown key',
      entry(rsa, { selecter: 's2' }),
      /^dkim\[0\]\.selecter: unknown key \(known: domain, selector, privateKey, algorithm, headers\)$/,
    ],
  ])('%s', (_, input, expected) => {
    const p = problems([input])
    expect(p).toHaveLength(1)
    expect(p[0]).toMatch(expected)
  })

  it('refuses a second key for the same domain, compared in lower case', () => {
    expect(problems([entry(rsa), entry(rsa, { domain: 'EXAMPLE.com', selector: 's2' })])).toEqual([
      "dkim[1].domain (example.com): dkim[0] has a key for it already; keep one key per domain (to change keys, replace the entry and publish the new selector's record first)",
    ])
  })

  it('reports every problem, one line each, and keeps the valid keys', () => {
    const { settings, problems: p } = resolveDkimSettings(
      [
        entry('env:NOPE'),
        entry(rsa, { domain: 'ok.example' }),
        entry(rsa512, { domain: 'b.example' }),
      ],
      { env: {} },
    )
    expect(p).toHaveLength(2)
    expect(p[0]).toMatch(/^dkim\[0\]\.privateKey \(example\.com\)/)
    expect(p[1]).toMatch(/^dkim\[2\]\.privateKey \(b\.example\)/)
    expect(settings.keys.map((k) => k.domain)).toEqual(['ok.example'])
  })

  it('refuses what is not a list, without showing it', () => {
    expect(problems({ domain: 'example.com', privateKey: rsa })).toEqual([
      expect.stringMatching(/^dkim: expected a list of keys, .* got an object$/),
    ])
    expect(problems(rsa)).toEqual([expect.stringMatching(/got a string$/)])
  })

  it('never prints a key', () => {
    const all = problems([
      entry(rsa512),
      entry(ed25519, { domain: 'b.example' }),
      entry(rsa, { domain: 'c.example', algorithm: 'nope' }),
      entry(rsa, { domain: 'bad domain' }),
      entry(rsa, { domain: 'd.example', selector: '' }),
      'x',
    ]).join('\n')
    for (const key of [rsa512, ed25519, rsa]) {
      const body = key.split('\n')[1]!
      expect(all).not.toContain(body)
    }
    expect(all).not.toContain('BEGIN')
  })

  // Root reads any file, whatever its mode.
  it.skipIf(process.getuid?.() === 0)('says what to do about a file Outbox may not read', () => {
    const file = join(dir, 'locked.pem')
    writeFileSync(file, rsa)
    chmodSync(file, 0o000)
    expect(problems([entry(`file:${file}`)])[0]).toMatch(/permission denied/)
  })
})

describe('the dkim option of createOutbox()', () => {
  it('is resolved into the options, keys read', () => {
    const resolved = resolveOutboxOptions({ dkim: [entry(rsa)] })
    expect(resolved.dkim.keys.map((k) => k.domain)).toEqual(['example.com'])
    expect(resolveOutboxOptions({}).dkim.keys).toEqual([])
  })

  it('is a ConfigError naming the field; several problems one line each', () => {
    const one = () => resolveOutboxOptions({ dkim: [entry(rsa512)] })
    expect(one).toThrow(ConfigError)
    expect(one).toThrow(
      /^Option dkim\[0\]\.privateKey \(example\.com\) from inline PEM: a 512-bit RSA key/,
    )
    try {
      resolveOutboxOptions({
        dkim: [
          entry(rsa512),
          { domain: 'b.example', selector: 's1', privateKey: 'env:NOPE_NOT_SET' },
        ],
      })
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError)
      expect((error as ConfigError).key).toBe('dkim[0].privateKey')
      expect((error as ConfigError).code).toBe('OUTBOX_INVALID_CONFIG')
      expect((error as Error).message.split('\n')).toEqual([
        'DKIM options have 2 problems:',
        expect.stringMatching(
          /^ {2}dkim\[0\]\.privateKey \(example\.com\) from inline PEM: a 512-bit/,
        ),
        '  dkim[1].privateKey (b.example): environment variable NOPE_NOT_SET is not set; set it to the PEM text of the private key',
      ])
      expect((error as Error).message).not.toContain('BEGIN')
    }
  })
})
