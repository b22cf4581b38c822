import { describe, expect, it } from 'vitest'
import { isThrottlingReply } from './throttling.js'

describe('isThrottlingReply', () => {
  it.each([
    [454, '454 4.7.0 Throttling failure: Maximum sending rate exceeded.'],
    [421, '421 4.7.28 Our system has detected an unusual rate of unsolicited mail'],
    [451, '451 4.7.500 Server busy. Please try again later.'],
    [421, '421 Too many messages from your IP, slow down'],
    [451, '451 Rate limit exceeded'],
  ])('%i %s is throttling', (code, reply) => {
    expect(isThrottlingReply(code, reply)).toBe(true)
  })

  it.each([
    [450, '450 4.2.1 Mailbox busy'],
    [452, '452 4.5.3 Too many recipients'],
    [451, '451 4.3.0 Local error in processing'],
    [421, '421 4.3.2 Service shutting down'],
    [550, '550 5.7.1 Rate limited forever'],
    [null, 'connection refused'],
  ])('%s %s is not', (code, reply) => {
    expect(isThrottlingReply(code, reply)).toBe(false)
  })
})
