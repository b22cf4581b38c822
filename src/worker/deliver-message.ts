import type { BounceAddressSettings } from '../config/outbox-options.js'
import type { RoutingSettings } from '../config/routing-settings.js'
import { describeDeliveryError } from '../delivery/classify-error.js'
import type { RetryPolicy } from '../delivery/retry-schedule.js'
import { isThrottlingReply } from '../delivery/throttling.js'
import type { DeliveryReport, RecipientResult } from '../delivery/upstream.js'
import type { UpstreamRuntime, UpstreamSet } from '../delivery/upstream-set.js'
import type { EventHub } from '../events.js'
import type { Logger } from '../logger.js'
import type { ClaimedMessage, Completion, RateChange, Store } from '../store/store.js'
import {
  bucketsFor,
  firstUp,
  MAX_PACING_MS,
  outageHold,
  type Admission,
  type HeldGroup,
  type SendGroup,
} from './admission.js'
import { deliverWithBounceAddresses } from './bounce-senders.js'
import { decideOutcome } from './decide-outcome.js'
import { deliveryLogLine } from './delivery-log.js'

/** What delivering one message needs. */
export interface DeliveryDeps {
  store: Store
  upstreams: UpstreamSet
  routing: RoutingSettings
  retry: RetryPolicy
  upstreamParkMs: number
  logger: Logger
  /** Told of every recorded attempt. */
  events: EventHub
  /** Bounce tracking (VERP envelope senders), or null when off. */
  bounces: BounceAddressSettings | null
}

/**
 * Delivers one admitted message (see admission.ts) and decides its next state. Never throws: a
 * damaged row or an exception from the transport becomes the outcome of this message alone (a
 * poison message must not stall the queue). Every attempt is logged at info, one line (see
 * delivery-log.ts).
 */
export async function deliverMessage(
  message: ClaimedMessage,
  admission: Admission,
  worker: string,
  deps: DeliveryDeps,
): Promise<Completion> {
  const startedAt = new Date()
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

  const held: HeldGroup[] = [...admission.held]
  const outcomes = await Promise.all(admission.send.map((g) => sendGroup(message, g, deps)))
  const used = new Set<string>()
  const results: RecipientResult[] = []
  let error: string | null = null
  let uncertain = false
  let captured = admission.send.length > 0
  let unexpected = false
  for (const outcome of outcomes) {
    results.push(...outcome.results)
    held.push(...outcome.held)
    for (const name of outcome.used) used.add(name)
    error ??= outcome.report?.error ?? null
    uncertain ||= outcome.report?.uncertain ?? false
    captured &&= outcome.report?.captured ?? false
    unexpected ||= outcome.unexpected
  }
  const upstream = used.size > 0 ? [...used].join('+') : (admission.send[0]?.runtime.name ?? null)
  const report: DeliveryReport = {
    recipients: results,
    upstreamDown: null,
    misconfigured: false,
    closing: false,
    uncertain,
    error,
    captured: captured && results.length > 0,
  }
  const completion = decideOutcome(
    message,
    report,
    {
      worker,
      startedAt,
      now: new Date(),
      retry: deps.retry,
      upstreamParkMs: deps.upstreamParkMs,
      random: Math.random(),
      upstream,
    },
    held,
  )
  const final: Completion = unexpected
    ? { ...completion, attempt: { ...completion.attempt, outcome: 'error' } }
    : completion
  const { fields, text } = deliveryLogLine(
    message,
    final,
    describeUsed(used, deps.upstreams) ?? deps.upstreams.description,
    new Date(),
  )
  deps.logger.info(fields, text)
  return final
}

function describeUsed(used: ReadonlySet<string>, upstreams: UpstreamSet): string | null {
  if (used.size === 0) return null
  if (upstreams.names.length === 1) return upstreams.all()[0]!.upstream.description
  return [...used].join('+')
}

/** What became of one group: its recipients' results, those held back, the upstreams used. */
interface GroupOutcome {
  results: RecipientResult[]
  held: HeldGroup[]
  used: string[]
  report: DeliveryReport | null
  /** A transport threw instead of reporting. */
  unexpected: boolean
}

/**
 * Sends one group through its upstream; if that upstream turns out to be down (the breaker's
 * definition: refused, timed out before DATA, 421 at the greeting, failed login), at once
 * through the next one of its route that is up. Only recipients no upstream settled are sent
 * again: one accepted by an upstream is never sent through another.
 */
async function sendGroup(
  message: ClaimedMessage,
  group: SendGroup,
  deps: DeliveryDeps,
): Promise<GroupOutcome> {
  const outcome: GroupOutcome = { results: [], held: [], used: [], report: null, unexpected: false }
  let runtime: UpstreamRuntime = group.runtime
  let recipients = group.recipients
  let buckets = group.buckets
  for (let hop = 0; hop < group.chain.length; hop++) {
    const { report, unexpected } = await sendThrough(runtime, message, recipients, deps)
    outcome.report = report
    outcome.unexpected ||= unexpected
    outcome.used.push(runtime.name)
    feedHealth(runtime, message.id, report)
    void feedRates(runtime, buckets, report, deps)
    if (!report.upstreamDown) {
      outcome.results.push(...report.recipients)
      return outcome
    }
    // Down: what it settled stays settled; the rest go on to the next upstream that is up.
    const settled = report.recipients.filter(
      (r) => r.disposition === 'accepted' || r.disposition === 'permanent',
    )
    outcome.results.push(...settled)
    const settledSet = new Set(settled.map((r) => r.address))
    recipients = recipients.filter((r) => !settledSet.has(r))
    const next = firstUp(group.chain, deps.upstreams, runtime.name)
    if (!next || recipients.length === 0) {
      if (recipients.length > 0) {
        outcome.held.push(
          outageHold(group.chain, recipients, deps, {
            error: report.upstreamDown,
            misconfigured: report.misconfigured,
          }),
        )
      }
      return outcome
    }
    const refs = bucketsFor(next, group.domain, deps.routing)
    if (refs.length > 0) {
      const [grant] = await deps.store
        .takeTokens([{ buckets: refs, maxWaitMs: MAX_PACING_MS }])
        .catch(() => [undefined])
      if (!grant?.granted) {
        outcome.held.push({
          recipients,
          dueInMs: Math.max(1, grant?.waitMs ?? 1000),
          reason: 'rate-limited',
          waitingForUpstream: false,
          error: `${runtime.name} is down (${report.upstreamDown}); ${next.name} is at its rate limit`,
        })
        return outcome
      }
      if (grant.waitMs > 0) await new Promise((r) => setTimeout(r, grant.waitMs))
      buckets = refs.map((ref, i) => ({ ref, rate: grant.rates[i] ?? ref.ratePerSec }))
    } else buckets = []
    deps.logger.info(
      { id: message.id, from: runtime.name, to: next.name, reason: report.upstreamDown },
      `upstream ${runtime.name} is down; sending through ${next.name}`,
    )
    runtime = next
  }
  return outcome
}

/** One transaction (or chunks of one) through one upstream, on one of its connections. */
async function sendThrough(
  runtime: UpstreamRuntime,
  message: ClaimedMessage,
  recipients: string[],
  deps: DeliveryDeps,
): Promise<{ report: DeliveryReport; unexpected: boolean }> {
  await runtime.acquire()
  runtime.learned.noteSent()
  try {
    const outgoing = {
      id: message.id,
      messageId: message.messageId,
      from: message.from,
      recipients,
      raw: message.raw!,
      eightBit: message.eightBit,
      smtpUtf8: message.smtpUtf8,
    }
    const report = deps.bounces
      ? await deliverWithBounceAddresses(runtime.upstream, outgoing, deps.bounces)
      : await runtime.upstream.deliver(outgoing)
    return { report, unexpected: false }
  } catch (error) {
    // deliver() reports SMTP failures itself; landing here means a transport threw.
    const summary = describeDeliveryError(error)
    deps.logger.error({ id: message.id, err: summary }, 'unexpected error delivering a message')
    return {
      report: {
        recipients: recipients.map((address) => ({
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
      },
      unexpected: true,
    }
  } finally {
    runtime.release()
  }
}

/** The upstream's breaker learns from every report. */
function feedHealth(runtime: UpstreamRuntime, messageId: string, report: DeliveryReport): void {
  if (report.upstreamDown) runtime.health.markDown(report.upstreamDown, report.misconfigured)
  else if (report.recipients.some((r) => r.disposition === 'accepted')) runtime.health.markUp()
  else if (report.closing && !throttledBy(report)) {
    runtime.health.noteClosing(messageId, report.error ?? '421')
  }
}

function throttledBy(report: DeliveryReport): boolean {
  return report.recipients.some(
    (r) => r.disposition === 'temporary' && isThrottlingReply(r.code, r.reply),
  )
}

/**
 * Adaptive throttling: a "too fast" reply halves the rate of every bucket the send took a
 * token from (an upstream with no rate of its own first learns one, see learned-limit.ts); an
 * accepted send raises those running below their ceiling. Nothing is written while every rate
 * is at its ceiling. Never rejects.
 */
async function feedRates(
  runtime: UpstreamRuntime,
  buckets: SendGroup['buckets'],
  report: DeliveryReport,
  deps: DeliveryDeps,
): Promise<void> {
  const throttled = throttledBy(report)
  const accepted = report.recipients.some((r) => r.disposition === 'accepted')
  const changes: RateChange[] = buckets
    .filter((b) => throttled || (accepted && b.rate < b.ref.ratePerSec))
    .map((b) => ({ key: b.ref.key, ratePerSec: b.ref.ratePerSec, throttled }))
  const key = `upstream:${runtime.name}`
  if (throttled && !buckets.some((b) => b.ref.key === key)) {
    const ceiling = runtime.learned.learn()
    changes.push({ key, ratePerSec: ceiling, throttled: true })
    deps.logger.warn(
      { upstream: runtime.name, ratePerSec: ceiling },
      `upstream ${runtime.name} asked to slow down and has no rateLimit: limiting it from the ${ceiling.toFixed(1)}/s it was taking, for every worker; set its rateLimit to choose`,
    )
  }
  if (changes.length === 0) return
  if (throttled) {
    deps.logger.warn(
      { buckets: changes.map((c) => c.key), reply: report.error },
      'upstream asked to slow down; halving the rate',
    )
  }
  await deps.store.adjustRates(changes).catch((error: unknown) => {
    deps.logger.warn({ err: (error as Error).message }, 'could not record a rate change')
  })
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
