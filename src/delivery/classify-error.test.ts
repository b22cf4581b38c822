import { describe, expect, it } from 'vitest'
import {
  classifyDeliveryError,
  refusesNewConnection,
  type DeliveryErrorLike,
  type FailureKind,
} from './classify-error.js'
import type { SmtpProgress } from './smtp-progress.js'

type Stage = 'greeting' | 'EHLO' | 'AUTH' | 'MAIL' | 'RCPT' | 'DATA' | 'after dot'
type Outcome = 421 | 450 | 451 | 452 | 454 | 550 | 552 | 554 | 'reset' | 'timeout'

const STAGES: Stage[] = ['greeting', 'EHLO', 'AUTH', 'MAIL', 'RCPT', 'DATA', 'after dot']
const OUTCOMES: Outcome[] = [421, 450, 451, 452, 454, 550, 552, 554, 'reset', 'timeout']

const none: SmtpProgress = { transaction: false, data: false, dotWritten: false }
const inTransaction: SmtpProgress = { transaction: true, data: false, dotWritten: false }
const afterDot: SmtpProgress = { transaction: true, data: true, dotWritten: true }

/**
 * The error Nodemailer 10's SMTP connection reports for a reply (or a dropped connection,
 * a timeout) at each stage, read from lib/smtp-connection and checked against smtp-server:
 * - greeting: `EPROTOCOL` "Invalid greeting" on `CONN`.
 * - EHLO: a 421 is `ECONNECTION` on `EHLO`; any other refusal makes it try HELO, which then
 *   fails as `EPROTOCOL` on `HELO`.
 * - AUTH: `EAUTH` on `AUTH PLAIN`.
 * - MAIL: `EENVELOPE` on `MAIL FROM`.
 * - RCPT: `EENVELOPE` on `RCPT TO`, except a 421: the server closes the connection and the
 *   (pipelined) send fails as `ECONNECTION` "Server closed the connection" on `CONN`.
 * - DATA: `EENVELOPE` "Data command failed" on `DATA`.
 * - after the dot: `EMESSAGE` "Message failed" on `DATA`.
 * - a dropped connection is `ECONNECTION`, a timeout `ETIMEDOUT`, both on `CONN` at every stage.
 */
function nodemailerError(stage: Stage, outcome: Outcome): [DeliveryErrorLike, SmtpProgress] {
  const progress = stage === 'after dot' ? afterDot : SESSION.has(stage) ? none : inTransaction
  if (outcome === 'reset') return [{ code: 'ECONNECTION', command: 'CONN' }, progress]
  if (outcome === 'timeout') return [{ code: 'ETIMEDOUT', command: 'CONN' }, progress]
  const responseCode = outcome
  switch (stage) {
    case 'greeting':
      return [{ code: 'EPROTOCOL', responseCode, command: 'CONN' }, progress]
    case 'EHLO':
      return responseCode === 421
        ? [{ code: 'ECONNECTION', responseCode, command: 'EHLO' }, progress]
        : [{ code: 'EPROTOCOL', responseCode, command: 'HELO' }, progress]
    case 'AUTH':
      return [{ code: 'EAUTH', responseCode, command: 'AUTH PLAIN' }, progress]
    case 'MAIL':
      return [{ code: 'EENVELOPE', responseCode, command: 'MAIL FROM' }, progress]
    case 'RCPT':
      return responseCode === 421
        ? [{ code: 'ECONNECTION', responseCode, command: 'CONN' }, progress]
        : [{ code: 'EENVELOPE', responseCode, command: 'RCPT TO' }, progress]
    case 'DATA':
      return [{ code: 'EENVELOPE', responseCode, command: 'DATA' }, progress]
    case 'after dot':
      return [{ code: 'EMESSAGE', responseCode, command: 'DATA' }, progress]
  }
}
const SESSION = new Set<Stage>(['greeting', 'EHLO', 'AUTH'])

/** What each cell must be: kind, plus `uncertain` / `closing` where they are set. */
function expected(stage: Stage, outcome: Outcome): { kind: FailureKind; flag?: string } {
  if (stage === 'greeting' || stage === 'EHLO') return { kind: 'upstream-down' }
  if (stage === 'AUTH') {
    return typeof outcome === 'number' && outcome >= 500
      ? { kind: 'misconfigured' }
      : { kind: 'upstream-down' }
  }
  if (outcome === 'reset' || outcome === 'timeout') {
    return stage === 'after dot'
      ? { kind: 'temporary', flag: 'uncertain' }
      : { kind: 'upstream-down' }
  }
  if (outcome === 421) return { kind: 'temporary', flag: 'closing' }
  return { kind: outcome >= 500 ? 'permanent' : 'temporary' }
}

describe('classifyDeliveryError: every stage × reply', () => {
  const table = STAGES.flatMap((stage) =>
    OUTCOMES.map((outcome) => [stage, outcome, expected(stage, outcome)] as const),
  )
  it.each(table)('%s × %s → %o', (stage, outcome, want) => {
    const [error, progress] = nodemailerError(stage, outcome)
    const c = classifyDeliveryError(error, progress)
    expect(c.kind).toBe(want.kind)
    expect(c.uncertain).toBe(want.flag === 'uncertain')
    expect(c.closing).toBe(want.flag === 'closing')
    expect(c.code).toBe(typeof outcome === 'number' ? outcome : null)
  })
})

describe('classifyDeliveryError: the rest', () => {
  const body: SmtpProgress = { transaction: true, data: true, dotWritten: false }
  const cases: [string, DeliveryErrorLike, SmtpProgress, FailureKind, boolean][] = [
    // description, error, progress, kind, uncertain
    [
      'connection refused',
      { code: 'ESOCKET', originalCode: 'ECONNREFUSED' },
      none,
      'upstream-down',
      false,
    ],
    [
      'plain ECONNREFUSED from a custom transport',
      { code: 'ECONNREFUSED' },
      none,
      'upstream-down',
      false,
    ],
    ['DNS failure', { code: 'EDNS', command: 'CONN' }, none, 'upstream-down', false],
    [
      'dropped in the middle of the body',
      { code: 'ECONNECTION', command: 'CONN' },
      body,
      'upstream-down',
      false,
    ],
    [
      'timed out in the middle of the body',
      { code: 'ETIMEDOUT', command: 'CONN' },
      body,
      'upstream-down',
      false,
    ],
    [
      'no recipients (Nodemailer check)',
      { code: 'EENVELOPE', command: 'API' },
      none,
      'permanent',
      false,
    ],
    [
      'over the SIZE the server advertised',
      { code: 'EMESSAGE', command: 'MAIL FROM' },
      inTransaction,
      'permanent',
      false,
    ],
    [
      '530 at MAIL: login required',
      { code: 'EENVELOPE', responseCode: 530, command: 'MAIL FROM' },
      inTransaction,
      'misconfigured',
      false,
    ],
    ['missing credentials', { code: 'ENOAUTH' }, none, 'misconfigured', false],
    [
      'credentials Nodemailer cannot use',
      { code: 'EAUTH', command: 'API' },
      none,
      'misconfigured',
      false,
    ],
    [
      'STARTTLS refused with ?requireTLS=true',
      { code: 'ETLS', responseCode: 500, command: 'STARTTLS' },
      none,
      'misconfigured',
      false,
    ],
    [
      'STARTTLS unavailable for now',
      { code: 'ETLS', responseCode: 454, command: 'STARTTLS' },
      none,
      'upstream-down',
      false,
    ],
    [
      'closed during the TLS handshake',
      { code: 'ETLS', command: 'CONN' },
      none,
      'upstream-down',
      false,
    ],
    ['an unknown exception', { message: 'boom' }, none, 'temporary', false],
    ['an unknown exception after the final dot', { message: 'boom' }, afterDot, 'temporary', true],
  ]
  it.each(cases)('%s', (_name, error, progress, kind, uncertain) => {
    const c = classifyDeliveryError(error, progress)
    expect(c.kind).toBe(kind)
    expect(c.uncertain).toBe(uncertain)
    expect(c.explanation !== null).toBe(kind === 'misconfigured')
  })
})

describe('classifyDeliveryError: TLS problems are configuration problems', () => {
  const tls: [string, string, RegExp][] = [
    // Node's code, as Nodemailer reports it (originalCode of an ESOCKET), and what the fix says
    [
      'CERT_HAS_EXPIRED',
      'expired',
      /Renew the certificate.*\?ignoreTLS=true.*rejectUnauthorized=false/,
    ],
    ['CERT_NOT_YET_VALID', 'not yet valid', /Renew the certificate/],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'not signed by an authority', /tls\.ca.*for testing only/],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'not signed by an authority', /tls\.ca/],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'not signed by an authority', /tls\.ca/],
    ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'not signed by an authority', /tls\.ca/],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'another host name', /host name the certificate names/],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'does not speak TLS', /smtps:\/\/ only for implicit TLS/],
    ['ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', 'handshake with the server failed', /TLS versions/],
    ['ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', 'handshake with the server failed', /TLS versions/],
  ]
  it.each(tls)('%s', (originalCode, what, fix) => {
    for (const progress of [none, inTransaction]) {
      const c = classifyDeliveryError({ code: 'ESOCKET', originalCode, command: 'CONN' }, progress)
      expect(c.kind).toBe('misconfigured')
      expect(c.uncertain).toBe(false)
      expect(c.explanation).toContain(what)
      expect(c.explanation).toContain(originalCode)
      expect(c.explanation).toMatch(fix)
    }
    // A custom transport may hand over Node's error as it is.
    expect(classifyDeliveryError({ code: originalCode }, none).kind).toBe('misconfigured')
  })
})

describe('refusesNewConnection', () => {
  it.each(STAGES.flatMap((stage) => OUTCOMES.map((outcome) => [stage, outcome] as const)))(
    '%s %s',
    (stage, outcome) => {
      const [error, progress] = nodemailerError(stage, outcome)
      const expected =
        (stage === 'greeting' || stage === 'EHLO') && typeof outcome === 'number' && outcome < 500
      expect(refusesNewConnection(error, progress)).toBe(expected)
    },
  )

  it("a missing extension is the message's permanent failure, not the upstream's", () => {
    expect(classifyDeliveryError({ code: 'ENOTOFFERED', command: 'MAIL FROM' }, none).kind).toBe(
      'permanent',
    )
  })
})
