import type { DeliveryReport } from '../delivery/upstream.js'
import { retryDelay, type RetryPolicy } from '../delivery/retry-schedule.js'
import { isThrottlingReply } from '../delivery/throttling.js'
import type { HeldGroup } from './admission.js'
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
  /** The upstream(s) the attempt used, for the attempt log. */
  upstream?: string | null
}

/**
 * A recipient refused as "too fast" is tried again this soon (plus up to as much again at
 * random), without counting toward the backoff: the halved rate, not a long wait, is the cure.
 */
export const THROTTLED_RETRY_MS = 1000

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
  held: readonly HeldGroup[] = [],
): Completion {
  const tried: RecipientOutcome[] = report.recipients.map((r) => ({
    address: r.address,
    status:
      r.disposition === 'accepted' ? 'sent' : r.disposition === 'permanent' ? 'failed' : 'pending',
    code: r.code,
    reply: r.reply,
  }))
  // Not tried this time (their turn is later, or their upstreams are down): still pending.
  const untried: RecipientOutcome[] = held.flatMap((h) =>
    h.recipients.map((address) => ({
      address,
      status: 'pending' as const,
      code: null,
      reply: h.error,
    })),
  )
  const recipients = [...tried, ...untried]
  const pending = recipients.filter((r) => r.status === 'pending')
  const throttled = tried.filter(
    (r) => r.status === 'pending' && isThrottlingReply(r.code, r.reply),
  )
  const temporary = tried.filter((r) => r.status === 'pending' && !throttled.includes(r))
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
    error: report.error ?? held[0]?.error ?? null,
    recipients: recorded,
    upstream: ctx.upstream ?? null,
  })
  const expire = (): Completion => {
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
  /** The earliest a held or throttled recipient is due again (ms from now), or null. */
  const soonest = (): number | null => {
    const dues = held.map((h) => h.dueInMs)
    if (throttled.length > 0) dues.push(THROTTLED_RETRY_MS * (1 + ctx.random))
    return dues.length > 0 ? Math.min(...dues) : null
  }

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

  if (temporary.length === 0) {
    // Only recipients held back or throttled: no fault of the message, so no backoff.
    const dueInMs = soonest()!
    const outage = throttled.length === 0 && held.every((h) => h.waitingForUpstream)
    if (!outage && ctx.now.getTime() + dueInMs >= message.expiresAt.getTime()) return expire()
    const misconfigured = held.some((h) => h.reason === 'upstream-misconfigured')
    const outcome: AttemptOutcome =
      settledNow > 0
        ? 'partial'
        : outage
          ? misconfigured
            ? 'misconfigured'
            : 'upstream-down'
          : 'deferred'
    return {
      ...base,
      attempt: attempt(outcome),
      recipients,
      status: 'deferred',
      dueAt: new Date(ctx.now.getTime() + dueInMs),
      waitingForUpstream: outage,
      reason: throttled.length > 0 ? 'throttled' : (held[0]?.reason ?? 'temporary-failure'),
    }
  }

  const backoff = retryDelay(message.backoffStep, ctx.retry, ctx.random)
  const next = ctx.now.getTime() + Math.min(backoff, soonest() ?? backoff)
  if (ctx.now.getTime() + backoff >= message.expiresAt.getTime()) return expire()
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
