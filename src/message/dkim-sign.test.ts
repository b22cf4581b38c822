import { generateKeyPairSync } from 'node:crypto'
import { dkimVerify } from 'mailauth'
import { describe, expect, it, vi } from 'vitest'
import type { DkimKeySetting } from '../config/dkim-settings.js'
import { dkimDnsRecord, txtStrings } from './dkim-dns-record.js'
import { createDkimSigner, keyForDomain } from './dkim-sign.js'

const key = (
  domain: string,
  algorithm: DkimKeySetting['algorithm'] = 'rsa-sha256',
  headers: string[] | null = null,
): DkimKeySetting => ({
  domain,
  selector: 's1',
  algorithm,
  privateKey:
    algorithm === 'rsa-sha256'
      ? generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey
      : generateKeyPairSync('ed25519').privateKey,
  headers,
  source: 'inline PEM',
})

/** Verifies with mailauth, its DNS answered from the keys' own records. */
async function verify(raw: Buffer, keys: DkimKeySetting[]) {
  const records = new Map(keys.map((k) => [dkimDnsRecord(k).name, dkimDnsRecord(k).value]))
  const result = await dkimVerify(raw, {
    resolver: async (name: string, type: string) => {
      const value = records.get(name)
      if (type !== 'TXT' || value === undefined) {
        throw Object.assign(new Error(`no ${type} record for ${name}`), { code: 'ENOTFOUND' })
      }
      return [txtStrings(value)]
    },
  })
  return result.results.map((r) => ({ domain: r.signingDomain, result: r.status.result }))
}

const mail = (from: string, extra = '') =>
  Buffer.from(
    `From: ${from}\r\nTo: someone@example.org\r\nSubject: Hello\r\nDate: Mon, 1 Dec 2025 10:00:00 +0000\r\nMessage-ID: <1@example.com>\r\n${extra}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße, ça marche. 日本語\r\n.leading dot\r\n\r\n\r\n`,
    'utf8',
  )

describe('keyForDomain', () => {
  const keys = new Map(['example.com', 'news.example.com'].map((d) => [d, key(d)]))
  it.each([
    ['example.com', 'example.com'],
    ['news.example.com', 'news.example.com'],
    ['eu.news.example.com', 'news.example.com'],
    ['shop.example.com', 'example.com'],
    ['example.org', null],
    ['badexample.com', null],
    ['com', null],
  ])('%s → %s', (domain, expected) => {
    expect(keyForDomain(keys, domain)?.domain ?? null).toBe(expected)
  })
})

describe('createDkimSigner', () => {
  it('signs with the From domain key: mailauth verifies it, the message bytes are kept', async () => {
    const k = key('example.com')
    const raw = mail('"Shop" <shop@Example.com>')
    const signed = await createDkimSigner({ keys: [k] }).sign(raw)
    expect(signed.subarray(signed.length - raw.length).equals(raw)).toBe(true)
    const header = signed.subarray(0, signed.length - raw.length).toString('latin1')
    expect(header).toMatch(
      /^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=example\.com;/,
    )
    // Folded, every line ending in CRLF, no bare LF.
    expect(header.endsWith('\r\n')).toBe(true)
    expect(header.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/)
    expect(await verify(signed, [k])).toEqual([{ domain: 'example.com', result: 'pass' }])
  })

  it('signs with one time, even when the clock crosses a second while it signs', async () => {
    // mailauth writes t= from Date.now() rounded, once for the header it signs and again for
    // the header it returns: a signing that straddled a half second had two different t= and
    // failed verification everywhere (1 message in ~300 with RSA 2048). The clock here moves
    // a second at every reading, so any two readings differ.
    const k = key('example.com')
    let now = 1_800_000_000_000
    const clock = vi.spyOn(Date, 'now').mockImplementation(() => (now += 1000))
    let signed: Buffer
    try {
      signed = await createDkimSigner({ keys: [k] }).sign(mail('shop@example.com'))
    } finally {
      clock.mockRestore()
    }
    expect(await verify(signed, [k])).toEqual([{ domain: 'example.com', result: 'pass' }])
  })

  it('signs with ed25519-sha256', async () => {
    const k = key('example.com', 'ed25519-sha256')
    const signed = await createDkimSigner({ keys: [k] }).sign(mail('shop@example.com'))
    expect(signed.toString('latin1')).toMatch(/a=ed25519-sha256/)
    expect(await verify(signed, [k])).toEqual([{ domain: 'example.com', result: 'pass' }])
  })

  it('a parent domain key signs a subdomain; the longest configured match wins', async () => {
    const parent = key('example.com')
    const news = key('news.example.com', 'ed25519-sha256')
    const signer = createDkimSigner({ keys: [parent, news] })
    const fromShop = await signer.sign(mail('a@shop.example.com'))
    expect(await verify(fromShop, [parent, news])).toEqual([
      { domain: 'example.com', result: 'pass' },
    ])
    const fromNews = await signer.sign(mail('a@eu.news.example.com'))
    expect(await verify(fromNews, [parent, news])).toEqual([
      { domain: 'news.example.com', result: 'pass' },
    ])
  })

  it('leaves mail with no key for its From domain unchanged: the same Buffer', async () => {
    const signer = createDkimSigner({ keys: [key('example.com')] })
    for (const raw of [mail('a@example.org'), mail('a@notexample.com'), Buffer.from('x\r\n')]) {
      expect(await signer.sign(raw)).toBe(raw)
    }
    const none = mail('a@example.com')
    expect(await createDkimSigner({ keys: [] }).sign(none)).toBe(none)
  })

  it('signs the configured header fields only', async () => {
    const k = key('example.com', 'rsa-sha256', ['from', 'subject'])
    const signed = await createDkimSigner({ keys: [k] }).sign(mail('a@example.com'))
    const h = /\bh=([^;]+);/.exec(signed.toString('latin1'))![1]!
    expect(
      h
        .split(':')
        .map((f) => f.trim().toLowerCase())
        .sort(),
    ).toEqual(['from', 'subject'])
    expect(await verify(signed, [k])).toEqual([{ domain: 'example.com', result: 'pass' }])
  })

  it('goes below the trace fields a hop prepended', async () => {
    const k = key('example.com')
    const received =
      'Received: from client ([127.0.0.1])\r\n\tby outbox (Outbox) with ESMTP;\r\n\tMon, 1 Dec 2025 10:00:00 +0000\r\n'
    const raw = Buffer.concat([Buffer.from(received), mail('a@example.com')])
    const signed = await createDkimSigner({ keys: [k] }).sign(raw)
    const text = signed.toString('latin1')
    expect(text.startsWith(received)).toBe(true)
    expect(text.slice(received.length)).toMatch(/^DKIM-Signature: /)
    expect(await verify(signed, [k])).toEqual([{ domain: 'example.com', result: 'pass' }])
  })

  it('a changed body no longer verifies (the verifier is not a rubber stamp)', async () => {
    const k = key('example.com')
    const signed = await createDkimSigner({ keys: [k] }).sign(mail('a@example.com'))
    const tampered = Buffer.from(signed.toString('utf8').replace('Grüße', 'Grüsse'), 'utf8')
    // mailauth reports a body hash mismatch as neutral (RFC 6376 6.1.3): anything but pass.
    expect((await verify(tampered, [k]))[0]!.result).not.toBe('pass')
  })
})

describe('dkimDnsRecord', () => {
  it('RSA: k=rsa and the SubjectPublicKeyInfo, split into strings of at most 255', () => {
    const k = {
      ...key('example.com'),
      privateKey: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
    }
    const record = dkimDnsRecord(k)
    expect(record.name).toBe('s1._domainkey.example.com')
    expect(record.value).toMatch(/^v=DKIM1; k=rsa; p=MIIBIjAN[A-Za-z0-9+/=]+$/)
    const strings = [...record.zoneLine.matchAll(/"([^"]*)"/g)].map((m) => m[1]!)
    expect(strings.length).toBeGreaterThan(1)
    expect(strings.every((s) => s.length <= 255)).toBe(true)
    expect(strings.join('')).toBe(record.value)
    expect(record.zoneLine).toMatch(
      /^s1\._domainkey\.example\.com\. 3600 IN TXT "v=DKIM1; k=rsa; p=/,
    )
  })

  it('Ed25519: k=ed25519 and the raw 32-byte public key (RFC 8463)', () => {
    const record = dkimDnsRecord(key('example.com', 'ed25519-sha256'))
    const p = /p=(.+)$/.exec(record.value)![1]!
    expect(record.value).toMatch(/^v=DKIM1; k=ed25519; p=/)
    expect(Buffer.from(p, 'base64')).toHaveLength(32)
    expect(record.zoneLine).toBe(`s1._domainkey.example.com. 3600 IN TXT "${record.value}"`)
  })

  it('txtStrings splits at 255 characters', () => {
    expect(txtStrings('a'.repeat(600)).map((s) => s.length)).toEqual([255, 255, 90])
    expect(txtStrings('')).toEqual([''])
  })
})
