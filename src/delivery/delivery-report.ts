import {
  classifyDeliveryError,
  describeDeliveryError,
  upstreamProblemReason,
} from './classify-error.js'
import type { SentInfo } from './smtp-session.js'
import { NO_PROGRESS, type SmtpProgress } from './smtp-progress.js'
import type { DeliveryReport, OutgoingMessage, RecipientResult } from './upstream.js'

/** SMTP allows a client to be refused past 100 recipients per transaction (RFC 5321 4.5.3.1.8). */
export const MAX_RECIPIENTS_PER_TRANSACTION = 100

/** A report with nothing wrong; the fields of a failure are set over it. */
export const OK_REPORT: Readonly<DeliveryReport> = Object.freeze({
  recipients: [],
  upstreamDown: null,
  misconfigured: false,
  closing: false,
  uncertain: false,
  error: null,
  captured: false,
})

/**
 * Nodemailer's per-recipient refusals (RCPT TO replies), by lower-cased address. A refusal of
 * one recipient is about that recipient, so even a 421 there only defers it.
 */
function refusalsByRecipient(errors: SentInfo['rejectedErrors']): Map<string, RecipientResult> {
  const byAddress = new Map<string, RecipientResult>()
  for (const err of errors ?? []) {
    const c = classifyDeliveryError(err, { ...NO_PROGRESS, transaction: true })
    const address = err.recipient ?? ''
    byAddress.set(address.toLowerCase(), {
      address,
      disposition: c.kind === 'permanent' ? 'permanent' : 'temporary',
      code: c.code,
      reply: err.response ?? err.message,
    })
  }
  return byAddress
}

const addressOf = (entry: unknown): string =>
  typeof entry === 'string'
    ? entry
    : entry && typeof entry === 'object' && 'address' in entry
      ? String(entry.address)
      : ''

/** The report of a transaction the server took, for the recipients it was sent to. */
export function reportFromInfo(info: SentInfo, chunk: readonly string[]): DeliveryReport {
  const reply = typeof info.response === 'string' ? info.response : 'accepted'
  const rejected = refusalsByRecipient(info.rejectedErrors)
  for (const entry of info.rejected ?? []) {
    const address = addressOf(entry)
    if (!rejected.has(address.toLowerCase())) {
      rejected.set(address.toLowerCase(), {
        address,
        disposition: 'permanent',
        code: null,
        reply: 'rejected',
      })
    }
  }
  const recipients = chunk.map((address): RecipientResult => {
    const refusal = rejected.get(address.toLowerCase())
    return refusal
      ? { ...refusal, address }
      : { address, disposition: 'accepted', code: 250, reply }
  })
  return { ...OK_REPORT, recipients }
}

/** The report of a transaction that failed, judged by where it failed (see classify-error.ts). */
export function reportFromError(
  error: unknown,
  progress: SmtpProgress,
  chunk: readonly string[],
): DeliveryReport {
  const e = error as Error & { rejectedErrors?: SentInfo['rejectedErrors']; response?: string }
  const c = classifyDeliveryError(e, progress)
  const summary = describeDeliveryError(e)
  if (c.kind === 'upstream-down' || c.kind === 'misconfigured') {
    const reason = upstreamProblemReason(c, summary)
    return {
      ...OK_REPORT,
      recipients: chunk.map((address) => ({
        address,
        disposition: 'upstream-down',
        code: c.code,
        reply: reason,
      })),
      upstreamDown: reason,
      misconfigured: c.kind === 'misconfigured',
      error: reason,
    }
  }
  // Every recipient refused: Nodemailer reports each refusal, which may differ (550 vs 451).
  const perRecipient = refusalsByRecipient(e.rejectedErrors)
  const failure = c.kind
  return {
    ...OK_REPORT,
    recipients: chunk.map((address) => {
      const own = perRecipient.get(address.toLowerCase())
      return own
        ? { ...own, address }
        : { address, disposition: failure, code: c.code, reply: e.response ?? summary }
    }),
    closing: c.closing,
    uncertain: c.uncertain,
    error: summary,
  }
}

/**
 * Delivers a message in SMTP transactions of at most 100 recipients (RFC 5321 4.5.3.1.8) and
 * merges their reports. Once the upstream is found down, the remaining transactions are not
 * tried.
 */
export async function deliverInChunks(
  message: OutgoingMessage,
  sendChunk: (chunk: string[]) => Promise<DeliveryReport>,
): Promise<DeliveryReport> {
  const report: DeliveryReport = { ...OK_REPORT, recipients: [] }
  for (let i = 0; i < message.recipients.length; i += MAX_RECIPIENTS_PER_TRANSACTION) {
    const chunk = message.recipients.slice(i, i + MAX_RECIPIENTS_PER_TRANSACTION)
    if (report.upstreamDown) {
      for (const address of chunk) {
        report.recipients.push({
          address,
          disposition: 'upstream-down',
          code: null,
          reply: report.upstreamDown,
        })
      }
      continue
    }
    const part = await sendChunk(chunk)
    report.recipients.push(...part.recipients)
    report.upstreamDown ??= part.upstreamDown
    report.misconfigured ||= part.misconfigured
    report.closing ||= part.closing
    report.uncertain ||= part.uncertain
    report.error ??= part.error
  }
  return report
}
