import type { DeliveryReport } from '../delivery/upstream.js'
import { retryDelay, type RetryPolicy } from '../delivery/retry-schedule.js'
import type {
  AttemptOutcome,
  ClaimedMessage,
  Completion,
  RecipientOutcome,
} from '../store/store.js'

/** What the decision needs besides the message and the report. */
export interface DecisionContext {
  worker: string
  startedAt: Date
  now: Date
  retry: RetryPolicy
  /** How long a message deferred by an outage waits if no probe wakes it first. */
  upstreamParkMs: number
  /** A number in [0, 1) for the retry jitter. */
  random: number
}

/**
 * Turns one delivery report into the message's next state. Pure.
 *
 * - Accepted recipients are sent; permanent refusals fail; the rest stay pending.
 * - Nothing pending: the message is `sent`, or `failed` if any recipient ever failed.
 * - Pending because the upstream was down or misconfigured: deferred until a probe succeeds,
 *   without counting toward the backoff.
 * - Pending otherwise: deferred with exponential backoff; if the next attempt would fall past
 *   the message's max age, it fails now as `expired`.
 */
export function decideOutcome(
  message: ClaimedMessage,
  report: DeliveryReport,
  ctx: DecisionContext,
): Completion {
  const recipients: RecipientOutcome[] = report.recipients.map((r) => ({
    address: r.address,
    status:
      r.disposition === 'accepted' ? 'sent' : r.disposition === 'permanent' ? 'failed' : 'pending',
    code: r.code,
    reply: r.reply,
  }))
  const pending = recipients.filter((r) => r.status === 'pending')
  const failedNow = recipients.some((r) => r.status === 'failed')
  const settledNow = recipients.length - pending.length
  const base = {
    id: message.id,
    owner: ctx.worker,
    captured: report.captured,
    countsTowardBackoff: false,
    waitingForUpstream: false,
  }
  const attempt = (outcome: AttemptOutcome, recorded: RecipientOutcome[] = recipients) => ({
    worker: ctx.worker,
    startedAt: ctx.startedAt,
    durationMs: ctx.now.getTime() - ctx.startedAt.getTime(),
    outcome,
    error: report.error,
    recipients: recorded,
  })

  if (pending.length === 0) {
    const failed = failedNow || message.failedRecipients > 0
    const outcome: AttemptOutcome = report.captured
      ? 'captured'
      : failedNow
        ? recipients.some((r) => r.status === 'sent')
          ? 'partial'
          : 'failed'
        : 'sent'
    return {
      ...base,
      attempt: attempt(outcome),
      recipients,
      status: failed ? 'failed' : 'sent',
      dueAt: null,
      reason: failed ? 'rejected' : null,
    }
  }

  if (report.upstreamDown) {
    const problem = report.misconfigured ? 'misconfigured' : 'upstream-down'
    return {
      ...base,
      attempt: attempt(settledNow > 0 ? 'partial' : problem),
      recipients,
      status: 'deferred',
      dueAt: new Date(ctx.now.getTime() + ctx.upstreamParkMs),
      waitingForUpstream: true,
      reason: report.misconfigured ? 'upstream-misconfigured' : 'upstream-down',
    }
  }

  const next = ctx.now.getTime() + retryDelay(message.backoffStep, ctx.retry, ctx.random)
  if (next >= message.expiresAt.getTime()) {
    const expired = recipients.map((r) =>
      r.status === 'pending'
        ? {
            ...r,
            status: 'failed' as const,
            reply: `expired: not delivered before the maximum age; last reply: ${r.reply}`,
          }
        : r,
    )
    return {
      ...base,
      attempt: attempt('expired', expired),
      recipients: expired,
      status: 'failed',
      dueAt: null,
      countsTowardBackoff: true,
      reason: 'expired',
    }
  }
  return {
    ...base,
    attempt: attempt(report.uncertain ? 'uncertain' : settledNow > 0 ? 'partial' : 'deferred'),
    recipients,
    status: 'deferred',
    dueAt: new Date(next),
    countsTowardBackoff: true,
    reason: report.uncertain ? 'uncertain' : 'temporary-failure',
  }
}
