import { priorityRank } from '../priority-rank.js'
import type { Completion, MessageFilter, MessageSelector, NewMessage } from '../store.js'

/**
 * What the Node side hands the Lua scripts: JSON with times as ms. Times of the caller's clock
 * (`sendAt` aside, an absolute schedule) travel as durations from its now, so the scripts
 * apply them to the server's clock.
 */

/** Filters travel to the scripts as JSON, times as ms. */
export function filterJson(filter: MessageFilter): Record<string, unknown> {
  return {
    ...filter,
    since: filter.since?.getTime(),
    before: filter.before?.getTime(),
  }
}

export function selectorJson(selector: MessageSelector): string {
  return JSON.stringify(
    'ids' in selector ? { ids: selector.ids } : { filter: filterJson(selector.filter) },
  )
}

export function messageJson(m: NewMessage) {
  return {
    id: m.id,
    messageId: m.messageId,
    priority: priorityRank(m.priority),
    from: m.envelope.from,
    to: m.envelope.to,
    toJson: JSON.stringify(m.envelope.to),
    subject: m.subject,
    tags: [...new Set(m.tags)],
    tagsJson: JSON.stringify(m.tags),
    size: m.raw.length,
    key: m.idempotencyKey,
    sendAt: m.sendAt?.getTime() ?? null,
    maxAgeMs: Math.round(m.maxAgeMs),
    leaseOwner: m.leaseTo?.owner ?? null,
    leaseMs: m.leaseTo ? Math.round(m.leaseTo.leaseMs) : null,
    eightBit: m.eightBit,
    smtpUtf8: m.smtpUtf8,
    upstream: m.upstream ?? null,
    check: m.checkSuppression === true,
    template: m.template
      ? JSON.stringify({
          name: m.template.name,
          language: m.template.language,
          version: m.template.version,
        })
      : null,
  }
}

/** A completion and its attempt record (kept as sent), as the `complete` script takes them. */
export function completionJson(c: Completion): [string, string] {
  const now = Date.now()
  const completion = {
    id: c.id,
    owner: c.owner,
    startedAgoMs: Math.max(0, now - c.attempt.startedAt.getTime()),
    outcome: c.attempt.outcome,
    error: c.attempt.error,
    recipients: c.recipients,
    status: c.status,
    delayMs: c.status === 'deferred' && c.dueAt ? Math.max(0, c.dueAt.getTime() - now) : 0,
    backoffIncrement: c.countsTowardBackoff ? 1 : 0,
    waitingUpstream: c.waitingForUpstream,
    reason: c.reason,
    captured: c.captured,
    upstream: c.attempt.upstream ?? null,
  }
  const attempt = {
    worker: c.attempt.worker,
    durationMs: Math.round(c.attempt.durationMs),
    outcome: c.attempt.outcome,
    error: c.attempt.error,
    recipients: c.attempt.recipients,
    upstream: c.attempt.upstream ?? null,
  }
  return [JSON.stringify(completion), JSON.stringify(attempt)]
}
