import { describe, expect, it } from 'vitest'
import { ehloExtensions } from './smtp-session.js'

describe('ehloExtensions', () => {
  it('reads the keywords after the greeting line, upper-case', () => {
    const reply =
      '250-postfix.test\n250-PIPELINING\n250-SIZE 10240000\n250-8bitmime\n250-AUTH=PLAIN\n250 SMTPUTF8'
    expect([...ehloExtensions(reply)]).toEqual([
      'PIPELINING',
      'SIZE',
      '8BITMIME',
      'AUTH',
      'SMTPUTF8',
    ])
  })

  it('a one-line reply (or HELO) offers nothing', () => {
    expect(ehloExtensions('250 mail.example.com').size).toBe(0)
    expect(ehloExtensions('').size).toBe(0)
  })
})
