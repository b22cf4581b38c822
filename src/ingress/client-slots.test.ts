import { describe, expect, it } from 'vitest'
import { clientKey, createClientSlots } from './client-slots.js'

const trusted = (address: string) => address.startsWith('127.0.0.1')

describe('client slots', () => {
  it('counts IPv6 clients per /64 and IPv4 clients per address', () => {
    expect(clientKey('192.0.2.7')).toBe('192.0.2.7')
    expect(clientKey('2001:db8:0:1::7')).toBe('2001:db8:0:1::/64')
    expect(clientKey('2001:DB8:0:1:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:0:1::/64')
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64')
    expect(clientKey('::1')).toBe('0:0:0:0::/64')
    expect(clientKey('64:ff9b:1::1:2:192.0.2.1')).toBe('64:ff9b:1:0::/64')
  })

  it('limits each outside client, and all of them to their share, never trusted clients', () => {
    const slots = createClientSlots({
      maxClients: 10,
      perClient: 3,
      outsideShare: 50,
      isTrusted: trusted,
    })
    const results = ['a', 'b', 'c', 'd'].map((id) => slots.admit(id, '192.0.2.1'))
    expect(results).toEqual([null, null, null, 'per-client'])
    expect(slots.admit('e', '192.0.2.2')).toBeNull()
    expect(slots.admit('f', '192.0.2.2')).toBeNull()
    expect(slots.admit('g', '192.0.2.3')).toBe('outside-share') // 5 of 10 taken by outsiders
    for (let i = 0; i < 5; i++) expect(slots.admit(`t${i}`, '127.0.0.1')).toBeNull()
    expect(slots.admit('t5', '127.0.0.1')).toBe('full')
    expect(slots.size).toBe(10)
    slots.release('a')
    slots.release('a') // twice, or for a session that never had a slot: no effect
    slots.release('never')
    expect(slots.size).toBe(9)
    expect(slots.admit('h', '192.0.2.1')).toBeNull()
  })

  it('keeps at least one slot for trusted clients whatever the share', () => {
    const slots = createClientSlots({
      maxClients: 2,
      perClient: 10,
      outsideShare: 100,
      isTrusted: trusted,
    })
    expect(slots.admit('a', '192.0.2.1')).toBeNull()
    expect(slots.admit('b', '192.0.2.1')).toBe('outside-share')
    expect(slots.admit('c', '127.0.0.1')).toBeNull()
  })
})
