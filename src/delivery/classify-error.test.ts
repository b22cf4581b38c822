import { describe, expect, it } from 'vitest'
import { classifyDeliveryError, type DeliveryErrorLike } from './classify-error.js'

describe('classifyDeliveryError', () => {
  const cases: [string, DeliveryErrorLike, boolean, string, boolean][] = [
    // description, error, bodySent, kind, uncertain
    [
      '550 at RCPT',
      { code: 'EENVELOPE', responseCode: 550, command: 'RCPT TO' },
      false,
      'permanent',
      false,
    ],
    [
      '552 after DATA',
      { code: 'EMESSAGE', responseCode: 552, command: 'DATA' },
      true,
      'permanent',
      false,
    ],
    [
      '451 at RCPT',
      { code: 'EENVELOPE', responseCode: 451, command: 'RCPT TO' },
      false,
      'temporary',
      false,
    ],
    [
      '452 after DATA',
      { code: 'EMESSAGE', responseCode: 452, command: 'DATA' },
      true,
      'temporary',
      false,
    ],
    [
      '421 at greeting',
      { code: 'EPROTOCOL', responseCode: 421, command: 'CONN' },
      false,
      'upstream-down',
      false,
    ],
    [
      '421 during the transaction',
      { code: 'EENVELOPE', responseCode: 421, command: 'MAIL FROM' },
      false,
      'upstream-down',
      false,
    ],
    [
      '554 at greeting',
      { code: 'EPROTOCOL', responseCode: 554, command: 'CONN' },
      false,
      'upstream-down',
      false,
    ],
    [
      '535 bad credentials',
      { code: 'EAUTH', responseCode: 535, command: 'AUTH PLAIN' },
      false,
      'upstream-down',
      false,
    ],
    ['missing credentials', { code: 'ENOAUTH' }, false, 'upstream-down', false],
    [
      'connection refused',
      { code: 'ESOCKET', originalCode: 'ECONNREFUSED', command: 'CONN' },
      false,
      'upstream-down',
      false,
    ],
    [
      'plain ECONNREFUSED from a custom transport',
      { code: 'ECONNREFUSED' },
      false,
      'upstream-down',
      false,
    ],
    ['DNS failure', { code: 'EDNS', command: 'CONN' }, false, 'upstream-down', false],
    ['connect timeout', { code: 'ETIMEDOUT', command: 'CONN' }, false, 'upstream-down', false],
    [
      'timeout after the final dot',
      { code: 'ETIMEDOUT', command: 'CONN' },
      true,
      'temporary',
      true,
    ],
    [
      'closed after the final dot',
      { code: 'ECONNECTION', command: 'CONN' },
      true,
      'temporary',
      true,
    ],
    [
      'closed before the body',
      { code: 'ECONNECTION', command: 'CONN' },
      false,
      'upstream-down',
      false,
    ],
    [
      'no recipients (Nodemailer check)',
      { code: 'EENVELOPE', command: 'API' },
      false,
      'permanent',
      false,
    ],
    [
      'over the SIZE the server advertised',
      { code: 'EMESSAGE', command: 'MAIL FROM' },
      false,
      'permanent',
      false,
    ],
    ['an unknown exception', { message: 'boom' }, false, 'temporary', false],
  ]
  it.each(cases)('%s', (_name, error, bodySent, kind, uncertain) => {
    const result = classifyDeliveryError(error, bodySent)
    expect(result.kind).toBe(kind)
    expect(result.uncertain).toBe(uncertain)
  })
})
