import { describe, expect, it } from 'vitest'
import { transportNeeds } from './transport-needs.js'

const envelope = { from: 's@example.com', to: ['r@example.com'] }

describe('transportNeeds', () => {
  it('a 7-bit message with ASCII addresses needs nothing', () => {
    expect(transportNeeds(Buffer.from('Subject: hi\r\n\r\nhello\r\n'), envelope)).toEqual({
      eightBit: false,
      smtpUtf8: false,
    })
  })

  it('a UTF-8 body or header is 8-bit', () => {
    expect(transportNeeds(Buffer.from('Subject: hi\r\n\r\ncafé\r\n'), envelope).eightBit).toBe(true)
    expect(transportNeeds(Buffer.from('Subject: café\r\n\r\nx\r\n'), envelope).eightBit).toBe(true)
    expect(
      transportNeeds(Buffer.from([0x53, 0x3a, 0x20, 0xe9, 0x0d, 0x0a]), envelope).eightBit,
    ).toBe(true)
  })

  it('a non-ASCII envelope address needs SMTPUTF8', () => {
    const raw = Buffer.from('Subject: hi\r\n\r\nx\r\n')
    expect(transportNeeds(raw, { from: 'jörg@example.com', to: ['r@example.com'] }).smtpUtf8).toBe(
      true,
    )
    expect(transportNeeds(raw, { from: '', to: ['r@exämple.com'] }).smtpUtf8).toBe(true)
    expect(transportNeeds(raw, { from: '', to: ['r@example.com'] }).smtpUtf8).toBe(false)
  })
})
