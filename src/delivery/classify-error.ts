/**
 * What a failed delivery means for the message:
 * - `permanent`: the upstream refused it for good (5xx); do not retry.
 * - `temporary`: try this message again later, with backoff (4xx, a dropped transaction).
 * - `upstream-down`: the upstream itself is unreachable or refuses service; no message is to
 *   blame, so the worker pauses and probes instead of burning attempts.
 */
export type FailureKind = 'permanent' | 'temporary' | 'upstream-down'

/** The parts of a Nodemailer (or Node system) error that classification reads. */
export interface DeliveryErrorLike {
  code?: unknown
  originalCode?: unknown
  responseCode?: unknown
  command?: unknown
  response?: unknown
  message?: unknown
}

/** A classified failure. */
export interface Classification {
  kind: FailureKind
  /**
   * The connection failed after the whole message was handed over: the upstream may have it.
   * Retried (the stable Message-ID lets receivers drop a duplicate), but logged as such.
   */
  uncertain: boolean
  /** The SMTP reply code, if the upstream gave one. */
  code: number | null
}

/** Network-level failures: the upstream could not be reached or talked to. */
const NETWORK_CODES = new Set([
  'ECONNECTION',
  'ESOCKET',
  'ETIMEDOUT',
  'EDNS',
  'ETLS',
  'EPROXY',
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
])

/** The upstream refuses us, not the message: bad or missing credentials. */
const SERVICE_CODES = new Set(['EAUTH', 'ENOAUTH', 'EOAUTH2'])

/** Nodemailer's own refusals of a message before or without a reply code. */
const MESSAGE_CODES = new Set(['EENVELOPE', 'EMESSAGE', 'EMAXRECIPIENTS', 'EREQUIRETLS'])

/** Commands whose failure means the session could not be set up at all. */
function isSessionCommand(command: string): boolean {
  return (
    command === 'CONN' ||
    command === 'EHLO' ||
    command === 'HELO' ||
    command === 'STARTTLS' ||
    command.startsWith('AUTH')
  )
}

/**
 * Classifies a delivery error from its SMTP reply code and Nodemailer error code. Pure.
 * `bodySent` tells whether the whole message had been handed to the connection when it failed.
 */
export function classifyDeliveryError(error: DeliveryErrorLike, bodySent: boolean): Classification {
  const code =
    typeof error.responseCode === 'number' && error.responseCode > 0 ? error.responseCode : null
  const command = typeof error.command === 'string' ? error.command.toUpperCase() : ''
  const errCode = typeof error.code === 'string' ? error.code : ''
  const original = typeof error.originalCode === 'string' ? error.originalCode : ''

  if (code !== null) {
    // 421 means "service not available, closing": the server, not this message, is the problem.
    if (code === 421 || isSessionCommand(command))
      return { kind: 'upstream-down', uncertain: false, code }
    if (code >= 500 && code < 600) return { kind: 'permanent', uncertain: false, code }
    return { kind: 'temporary', uncertain: false, code }
  }
  if (SERVICE_CODES.has(errCode)) return { kind: 'upstream-down', uncertain: false, code }
  if (NETWORK_CODES.has(errCode) || NETWORK_CODES.has(original)) {
    // Lost after the final dot: the upstream was there a moment ago and may have the message.
    if (bodySent) return { kind: 'temporary', uncertain: true, code }
    return { kind: 'upstream-down', uncertain: false, code }
  }
  if (MESSAGE_CODES.has(errCode)) return { kind: 'permanent', uncertain: false, code }
  // Anything else (a transport's own exception): retry this message later rather than lose it.
  return { kind: 'temporary', uncertain: bodySent, code }
}

/** A one-line description of a delivery error for logs and the attempt log (no message content). */
export function describeDeliveryError(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  const e = error as Error & DeliveryErrorLike
  const parts = [e.message]
  if (typeof e.code === 'string' && !e.message.includes(e.code)) parts.push(`[${e.code}]`)
  if (typeof e.originalCode === 'string') parts.push(`(${e.originalCode})`)
  return parts.join(' ').slice(0, 1000)
}
