import { formatDuration } from '../config/duration.js'
import type { ClaimedMessage, Completion } from '../store/store.js'

/** Recipients named in one log line; the rest are counted (a list of 1,000 helps nobody). */
export const LOGGED_RECIPIENTS = 10
/** Longest reply text kept in a log line. */
const REPLY_CHARS = 300

/** One recipient in a delivery log line, like Postfix's `to=<…> status=…`. */
export interface LoggedRecipient {
  to: string
  /** `deferred`: pending, tried again later. */
  status: 'sent' | 'deferred' | 'failed' | 'bounced' | 'complained'
  code: number | null
  reply: string
}

/** The fields of the one line logged per delivery attempt (see {@link deliveryLogLine}). */
export interface DeliveryLogFields {
  /** Outbox's queue id (`outbox show ID`). */
  id: string
  messageId: string
  upstream: string
  /** What became of the message: `sent`, `deferred` (tried again later) or `failed` (Postfix's `bounced`). */
  status: 'sent' | 'deferred' | 'failed'
  /** The attempt's outcome as the attempt log records it (`partial`, `upstream-down`, …). */
  outcome: string
  /** Why it was deferred or failed (`temporary-failure`, `rejected`, `expired`, …). */
  reason: string | null
  recipients: LoggedRecipient[]
  /** Recipients of this attempt beyond those listed. */
  moreRecipients?: number
  /** This attempt's number, 1 for the first. */
  attempt: number
  /** From enqueue to the end of this attempt (ms): Postfix's `delay=`. */
  delayMs: number
  /** This attempt alone (ms). */
  durationMs: number
  /** For `deferred`: when it is tried again. */
  nextAttemptAt?: string
}

const STATUS = {
  sent: 'sent',
  pending: 'deferred',
  failed: 'failed',
  bounced: 'bounced',
  complained: 'complained',
} as const

const clip = (text: string): string =>
  text.length > REPLY_CHARS ? `${text.slice(0, REPLY_CHARS)}…` : text

/**
 * The log line of one delivery attempt, for operators who grep their logs as Postfix users
 * grep `status=sent|deferred|bounced` (`failed` here): the queue id, Message-ID, upstream, each recipient
 * (at most {@link LOGGED_RECIPIENTS}) with its status, reply code and text, and the delay.
 * Never the message's content. Pure.
 */
export function deliveryLogLine(
  message: ClaimedMessage,
  completion: Completion,
  upstream: string,
  now: Date,
): { fields: DeliveryLogFields; text: string } {
  const all = completion.attempt.recipients
  const recipients = all.slice(0, LOGGED_RECIPIENTS).map((r): LoggedRecipient => ({
    to: r.address,
    status: STATUS[r.status],
    code: r.code,
    reply: clip(r.reply),
  }))
  const status = completion.status
  const delayMs = now.getTime() - message.createdAt.getTime()
  const fields: DeliveryLogFields = {
    id: message.id,
    messageId: message.messageId,
    upstream,
    status,
    outcome: completion.attempt.outcome,
    reason: completion.reason,
    recipients,
    ...(all.length > LOGGED_RECIPIENTS ? { moreRecipients: all.length - LOGGED_RECIPIENTS } : {}),
    attempt: message.attempts + 1,
    delayMs,
    durationMs: completion.attempt.durationMs,
    ...(completion.status === 'deferred' && completion.dueAt
      ? { nextAttemptAt: completion.dueAt.toISOString() }
      : {}),
  }
  const first = recipients[0]
  const others = all.length > 1 ? ` (+${all.length - 1} more)` : ''
  const reply = first ? ` to=<${first.to}>${others}: ${first.reply}` : ''
  const text = `${message.id}: status=${status}${reply} (${completion.attempt.outcome}, delay=${formatDuration(delayMs)})`
  return { fields, text }
}
