import { deliveryStage, type DeliveryErrorLike, type DeliveryStage } from './delivery-stage.js'
import { misconfiguration } from './misconfiguration.js'
import { NO_PROGRESS, type SmtpProgress } from './smtp-progress.js'

export type { DeliveryErrorLike, DeliveryStage } from './delivery-stage.js'

/**
 * What a failed delivery means for the message:
 * - `permanent`: the upstream refused it for good (5xx); do not retry.
 * - `temporary`: try this message again later, with backoff (4xx, a 421 in its transaction).
 * - `upstream-down`: the upstream is unreachable or refuses service; no message is to blame,
 *   so the worker pauses and probes instead of burning attempts.
 * - `misconfigured`: like `upstream-down`, but waiting will not fix it (a bad TLS certificate,
 *   wrong credentials): shown loudly, with the fix, until someone does.
 */
export type FailureKind = 'permanent' | 'temporary' | 'upstream-down' | 'misconfigured'

/** A classified failure. */
export interface Classification {
  kind: FailureKind
  /** Where in the dialogue it failed. */
  stage: DeliveryStage
  /**
   * The final dot was written and no reply came: the upstream may have the message. Retried
   * (the stable Message-ID lets receivers drop a duplicate), but logged as such.
   */
  uncertain: boolean
  /**
   * A 421 in the message's transaction: the server is closing the connection. Temporary for
   * this message, but the same from several messages in a row means the upstream is down.
   */
  closing: boolean
  /** The SMTP reply code, if the upstream gave one. */
  code: number | null
  /** For `misconfigured`: what is wrong and how to fix it. */
  explanation: string | null
}

/** Network-level failures: the upstream could not be reached or talked to. */
const NETWORK_CODES = new Set([
  'ECONNECTION',
  'ESOCKET',
  'ETIMEDOUT',
  'EDNS',
  'ETLS',
  'EPROXY',
  'EPROTOCOL',
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
])

/**
 * Refusals of a message before or without a reply code: Nodemailer's own, and Outbox's
 * `ENOTOFFERED` (the server lacks an extension the message needs, see relay-extensions.ts).
 */
const MESSAGE_CODES = new Set([
  'EENVELOPE',
  'EMESSAGE',
  'EMAXRECIPIENTS',
  'EREQUIRETLS',
  'ENOTOFFERED',
])

/** Stages before the message's transaction: a failure there is about the upstream, never the message. */
const SESSION_STAGES = new Set<DeliveryStage>(['connect', 'greeting', 'ehlo', 'tls', 'auth'])

/**
 * Classifies a delivery error from where it happened (see {@link deliveryStage}), its SMTP reply
 * code and its Nodemailer or system error code. Pure.
 *
 * | stage                         | 421              | other 4xx   | 5xx                      | dropped, timeout      |
 * | ----------------------------- | ---------------- | ----------- | ------------------------ | --------------------- |
 * | connect, greeting, EHLO, TLS  | upstream-down    | upstream-down | upstream-down          | upstream-down         |
 * | AUTH                          | upstream-down    | upstream-down | misconfigured          | upstream-down         |
 * | MAIL, RCPT, DATA              | temporary, closing | temporary | permanent (530: misconfigured) | upstream-down |
 * | body (before the final dot)   |                  |             |                          | upstream-down         |
 * | after the final dot           | temporary, closing | temporary | permanent              | temporary, uncertain  |
 *
 * TLS certificate and handshake failures are `misconfigured` wherever they happen.
 */
export function classifyDeliveryError(
  error: DeliveryErrorLike,
  progress: SmtpProgress,
): Classification {
  const code =
    typeof error.responseCode === 'number' && error.responseCode > 0 ? error.responseCode : null
  const errCode = typeof error.code === 'string' ? error.code : ''
  const original = typeof error.originalCode === 'string' ? error.originalCode : ''
  const stage = deliveryStage(error, progress)
  const result = (kind: FailureKind, extra: Partial<Classification> = {}): Classification => ({
    kind,
    stage,
    uncertain: false,
    closing: false,
    code,
    explanation: null,
    ...extra,
  })

  const explanation = misconfiguration(error, stage, code)
  if (explanation) return result('misconfigured', { explanation })

  if (code !== null && !SESSION_STAGES.has(stage)) {
    // In the message's own transaction (MAIL, RCPT, DATA, the final dot), a reply is about it.
    if (code === 421) return result('temporary', { closing: true })
    if (code >= 500 && code < 600) return result('permanent')
    if (code >= 400 && code < 500) return result('temporary')
  }
  if (code !== null) return result('upstream-down')
  if (errCode === 'EAUTH' || errCode === 'EOAUTH2') return result('upstream-down')
  if (NETWORK_CODES.has(errCode) || NETWORK_CODES.has(original)) {
    // Lost after the final dot: the upstream was there a moment ago and may have the message.
    if (stage === 'after-dot') return result('temporary', { uncertain: true })
    return result('upstream-down')
  }
  if (MESSAGE_CODES.has(errCode)) return result('permanent')
  // Anything else (a transport's own exception): retry this message later rather than lose it.
  return result('temporary', { uncertain: stage === 'after-dot' })
}

/**
 * Whether opening a connection failed because the server refused one more connection from us:
 * a 4xx reply to the greeting or to EHLO, the way a server answers a client over its
 * connection limit (`421 4.7.0 Too many connections`). Only while other connections to the
 * same upstream are open does it mean that (see connection-limit.ts); otherwise the upstream
 * is down. Pure.
 */
export function refusesNewConnection(
  error: DeliveryErrorLike,
  progress: SmtpProgress = NO_PROGRESS,
): boolean {
  const code = typeof error.responseCode === 'number' ? error.responseCode : 0
  const stage = deliveryStage(error, progress)
  return code >= 400 && code < 500 && (stage === 'greeting' || stage === 'ehlo')
}

/**
 * The reason to record and show for a failure that pauses delivery: for a misconfiguration,
 * what is wrong and the fix, then the error itself.
 */
export function upstreamProblemReason(c: Classification, summary: string): string {
  return c.explanation ? `${c.explanation} Error: ${summary}` : summary
}

/** What a failed probe (connect, EHLO, STARTTLS, login) says about the upstream. */
export function diagnoseProbeError(error: unknown): { reason: string; misconfigured: boolean } {
  const c = classifyDeliveryError(error ?? {}, NO_PROGRESS)
  return {
    reason: upstreamProblemReason(c, describeDeliveryError(error)),
    misconfigured: c.kind === 'misconfigured',
  }
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
