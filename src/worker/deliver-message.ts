import { describeDeliveryError } from '../delivery/classify-error.js'
import type { RetryPolicy } from '../delivery/retry-schedule.js'
import type { DeliveryReport, Upstream } from '../delivery/upstream.js'
import type { UpstreamHealth } from '../delivery/upstream-health.js'
import type { EventHub } from '../events.js'
import type { Logger } from '../logger.js'
import type { ClaimedMessage, Completion } from '../store/store.js'
import { decideOutcome } from './decide-outcome.js'
import { deliveryLogLine } from './delivery-log.js'
import type { RateLimiter } from './rate-limiter.js'

/** What delivering one message needs. */
export interface DeliveryDeps {
  upstream: Upstream
  health: UpstreamHealth
  retry: RetryPolicy
  upstreamParkMs: number
  logger: Logger
  /** Paces sends for the upstream's rate limit; shared by every sender of one Outbox. */
  rateLimiter: RateLimiter
  /** Told of every recorded attempt. */
  events: EventHub
}

/**
 * Delivers one leased message and decides its next state. Never throws: a damaged row or an
 * exception from the transport becomes the outcome of this message alone (a poison message
 * must not stall the queue). Every attempt is logged at info, one line (see delivery-log.ts).
 */
export async function deliverMessage(
  message: ClaimedMessage,
  worker: string,
  deps: DeliveryDeps,
): Promise<Completion> {
  const completion = await attemptDelivery(message, worker, deps)
  const { fields, text } = deliveryLogLine(
    message,
    completion,
    deps.upstream.description,
    new Date(),
  )
  deps.logger.info(fields, text)
  return completion
}

async function attemptDelivery(
  message: ClaimedMessage,
  worker: string,
  deps: DeliveryDeps,
): Promise<Completion> {
  const startedAt = new Date()
  const ctx = () => ({
    worker,
    startedAt,
    now: new Date(),
    retry: deps.retry,
    upstreamParkMs: deps.upstreamParkMs,
    random: Math.random(),
  })

  const damage =
    message.raw === null || message.raw.length === 0
      ? 'the stored message bytes are missing'
      : message.pendingRecipients.length === 0
        ? 'the message has no pending recipients'
        : null
  if (damage) {
    deps.logger.error({ id: message.id, damage }, 'damaged message failed')
    return failWithoutAttempt(message, worker, startedAt, `damaged: ${damage}`)
  }

  let report: DeliveryReport
  try {
    report = await deps.upstream.deliver({
      id: message.id,
      messageId: message.messageId,
      from: message.from,
      recipients: message.pendingRecipients,
      raw: message.raw!,
      eightBit: message.eightBit,
      smtpUtf8: message.smtpUtf8,
    })
  } catch (error) {
    // deliver() reports SMTP failures itself; landing here means a transport threw.
    const summary = describeDeliveryError(error)
    deps.logger.error({ id: message.id, err: summary }, 'unexpected error delivering a message')
    report = {
      recipients: message.pendingRecipients.map((address) => ({
        address,
        disposition: 'temporary' as const,
        code: null,
        reply: summary,
      })),
      upstreamDown: null,
      misconfigured: false,
      closing: false,
      uncertain: false,
      error: summary,
      captured: false,
    }
    const completion = decideOutcome(message, report, ctx())
    return { ...completion, attempt: { ...completion.attempt, outcome: 'error' } }
  }

  if (report.upstreamDown) deps.health.markDown(report.upstreamDown, report.misconfigured)
  else if (report.recipients.some((r) => r.disposition === 'accepted')) deps.health.markUp()
  else if (report.closing) deps.health.noteClosing(message.id, report.error ?? '421')
  return decideOutcome(message, report, ctx())
}

function failWithoutAttempt(
  message: ClaimedMessage,
  worker: string,
  startedAt: Date,
  reason: string,
): Completion {
  const recipients = message.pendingRecipients.map((address) => ({
    address,
    status: 'failed' as const,
    code: null,
    reply: reason,
  }))
  return {
    id: message.id,
    owner: worker,
    attempt: {
      worker,
      startedAt,
      durationMs: Date.now() - startedAt.getTime(),
      outcome: 'error',
      error: reason,
      recipients,
    },
    recipients,
    status: 'failed',
    dueAt: null,
    countsTowardBackoff: false,
    waitingForUpstream: false,
    reason,
    captured: false,
  }
}
