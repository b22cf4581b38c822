import { describe, expect, it } from 'vitest'
import { createQueueId } from '../message/queue-id.js'
import { ConfigError } from '../errors.js'
import {
  bounceAddress,
  bounceTokenMatches,
  isBounceDomain,
  parseBounceAddress,
  type BounceAddressSettings,
} from './verp.js'

const settings: BounceAddressSettings = {
  domain: 'bounces.example.com',
  secret: 'a secret of at least 16 characters',
}
const queueId = createQueueId(Date.UTC(2026, 0, 2))
const recipient = 'Ann.Smith@Example.org'

function roundTrip(address: string, to: string = recipient): boolean {
  const parsed = parseBounceAddress(settings, address)
  return parsed !== null && bounceTokenMatches(settings, parsed, to)
}

describe('bounceAddress', () => {
  it('is bounces+<queue id>-<mac>@domain, in lower case and at most 64 characters before the @', () => {
    const address = bounceAddress(settings, queueId, recipient)
    expect(address).toMatch(
      new RegExp(`^bounces\\+${queueId}-[0-9a-hjkmnp-tv-z]{16}@bounces\\.example\\.com$`),
    )
    expect(address).toBe(address.toLowerCase())
    expect(address.split('@')[0]!.length).toBeLessThanOrEqual(64)
  })

  it('round-trips, also when an MTA changed its case or added angle brackets', () => {
    const address = bounceAddress(settings, queueId, recipient)
    expect(parseBounceAddress(settings, address)).toEqual({ queueId, mac: address.slice(29, 45) })
    expect(roundTrip(address)).toBe(true)
    expect(roundTrip(address.toUpperCase())).toBe(true)
    expect(roundTrip(`<${address}>`)).toBe(true)
    expect(roundTrip(address, recipient.toLowerCase())).toBe(true)
  })

  it('is the same for the same message and recipient, different for another recipient', () => {
    const a = bounceAddress(settings, queueId, recipient)
    expect(bounceAddress(settings, queueId, recipient.toUpperCase())).toBe(a)
    expect(bounceAddress(settings, queueId, 'bob@example.org')).not.toBe(a)
  })

  it('uses the configured local part and keeps it within 64 characters', () => {
    const address = bounceAddress({ ...settings, localPart: 'return-path' }, queueId, recipient)
    expect(address.startsWith(`return-path+${queueId}-`)).toBe(true)
    const longest = 'x'.repeat(64 - 38)
    expect(
      bounceAddress({ ...settings, localPart: longest }, queueId, recipient).split('@')[0],
    ).toHaveLength(64)
    expect(() =>
      bounceAddress({ ...settings, localPart: longest + 'x' }, queueId, recipient),
    ).toThrow(ConfigError)
    expect(() => bounceAddress({ ...settings, localPart: 'Bounces' }, queueId, recipient)).toThrow(
      ConfigError,
    )
  })

  it('refuses a short secret and a queue id that is not one', () => {
    expect(() => bounceAddress({ ...settings, secret: 'too short' }, queueId, recipient)).toThrow(
      /at least 16 characters/,
    )
    expect(() => bounceAddress(settings, 'not-a-queue-id', recipient)).toThrow(TypeError)
  })
})

describe('bounceTokenMatches', () => {
  const address = bounceAddress(settings, queueId, recipient)
  const parsed = parseBounceAddress(settings, address)!

  it('rejects a forged mac', () => {
    const forged = parsed.mac.replace(/^./, (c) => (c === '0' ? '1' : '0'))
    expect(bounceTokenMatches(settings, { ...parsed, mac: forged }, recipient)).toBe(false)
    expect(bounceTokenMatches(settings, { ...parsed, mac: parsed.mac.slice(1) }, recipient)).toBe(
      false,
    )
  })

  it('rejects another recipient, another queue id and another secret', () => {
    expect(bounceTokenMatches(settings, parsed, 'bob@example.org')).toBe(false)
    const other = createQueueId(Date.UTC(2026, 0, 3))
    expect(bounceTokenMatches(settings, { ...parsed, queueId: other }, recipient)).toBe(false)
    const rotated = { ...settings, secret: 'another secret of 16+ characters' }
    expect(bounceTokenMatches(rotated, parsed, recipient)).toBe(false)
  })
})

describe('parseBounceAddress', () => {
  const address = bounceAddress(settings, queueId, recipient)
  const [local] = address.split('@') as [string]

  it.each([
    ['another domain', `${local}@example.com`],
    ['a subdomain of it', `${local}@x.bounces.example.com`],
    ['another local part', address.replace(/^bounces/, 'replies')],
    ['no token', 'bounces@bounces.example.com'],
    ['a token without mac', `bounces+${queueId}@bounces.example.com`],
    ['a short queue id', address.replace(queueId, queueId.slice(1))],
    ['a letter outside the alphabet', address.replace(queueId, 'u' + queueId.slice(1))],
    ['no @', local],
    ['empty', ''],
  ])('is null for %s', (_name, input) => {
    expect(parseBounceAddress(settings, input)).toBeNull()
  })

  it('compares the domain case-insensitively, also in the settings', () => {
    expect(
      parseBounceAddress({ ...settings, domain: 'Bounces.Example.COM' }, address),
    ).not.toBeNull()
    expect(parseBounceAddress(settings, `${local}@BOUNCES.example.com.`)).not.toBeNull()
  })
})

describe('isBounceDomain', () => {
  it('is true for any address at the bounce domain, in any case', () => {
    expect(isBounceDomain(settings, 'anything@Bounces.Example.com')).toBe(true)
    expect(isBounceDomain(settings, '<postmaster@bounces.example.com>')).toBe(true)
    expect(isBounceDomain(settings, 'someone@example.com')).toBe(false)
    expect(isBounceDomain(settings, 'bounces.example.com')).toBe(false)
  })
})
