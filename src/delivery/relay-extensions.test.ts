import { describe, expect, it } from 'vitest'
import { missingExtension } from './relay-extensions.js'

const offers = (...keywords: string[]) => new Set(keywords)

describe('missingExtension', () => {
  it.each([
    [{ eightBit: false, smtpUtf8: false }, offers(), null],
    [{ eightBit: true, smtpUtf8: false }, offers('8BITMIME'), null],
    [{ eightBit: true, smtpUtf8: false }, offers('SMTPUTF8'), '8BITMIME'],
    [{ eightBit: true, smtpUtf8: true }, offers('8BITMIME'), 'SMTPUTF8'],
    [{ eightBit: false, smtpUtf8: true }, offers('8BITMIME', 'SMTPUTF8'), null],
  ] as const)('%o with %o: %s', (needs, offered, expected) => {
    expect(missingExtension(needs, offered)).toBe(expected)
  })
})
