/**
 * What a webhook endpoint's consumer keeps in the store between attempts (the consumer's
 * `state`), so that any worker process taking the endpoint over goes on where the last left
 * off: the batch being tried (sent again with the same `webhook-id`), the backoff, what was
 * given up, and counts for `outbox webhooks`.
 */

/** A run of events given up on (or being sent again): positions after `after` up to `upTo`. */
export interface EventRange {
  after: string | null
  upTo: string
  /** Events of the endpoint's types in the range when it was given up. */
  events: number
  error: string | null
  /** When it was given up (ISO). */
  at: string
}

export interface WebhookState {
  /** The batch under way: tried again as it was until it is delivered or given up. */
  inFlight: { after: string | null; upTo: string; cursorAfter: string | null } | null
  /** Failed attempts of the batch under way. */
  attempts: number
  /** No attempt before this (ISO): the backoff. */
  nextAttemptAt: string | null
  /** When the batch under way first failed (ISO); it is given up `retryFor` after. */
  failingSince: string | null
  lastError: string | null
  lastErrorAt: string | null
  lastSuccessAt: string | null
  /** HTTP status of the last answer, if one came. */
  lastStatus: number | null
  /** Events delivered (2xx), requests made, and requests whose outcome was unknown (a timeout or reset after sending). */
  delivered: number
  requests: number
  uncertain: number
  /** Given up, for `outbox webhooks retry`. */
  failures: EventRange[]
  /** Being sent again after a retry request, oldest first. */
  retrying: EventRange[]
  /** The consumer's `retryRequests` already acted on. */
  retriesHandled: number
}

/** Ranges given up kept at most; the oldest are dropped (and logged) beyond it. */
export const MAX_FAILURE_RANGES = 1000

export function emptyWebhookState(): WebhookState {
  return {
    inFlight: null,
    attempts: 0,
    nextAttemptAt: null,
    failingSince: null,
    lastError: null,
    lastErrorAt: null,
    lastSuccessAt: null,
    lastStatus: null,
    delivered: 0,
    requests: 0,
    uncertain: 0,
    failures: [],
    retrying: [],
    retriesHandled: 0,
  }
}

/** The state as stored, with defaults for what an older or damaged one lacks. */
export function readWebhookState(stored: Record<string, unknown>): WebhookState {
  const base = emptyWebhookState()
  const merged = { ...base, ...stored }
  if (!Array.isArray(merged.failures)) merged.failures = []
  if (!Array.isArray(merged.retrying)) merged.retrying = []
  for (const key of ['attempts', 'delivered', 'requests', 'uncertain', 'retriesHandled'] as const) {
    if (typeof merged[key] !== 'number') merged[key] = 0
  }
  return merged
}

/** Backoff of a failing endpoint: 1 s, 2 s, 4 s … up to 5 min, less up to 20 % at random. */
export function webhookBackoffMs(attempts: number, random: number): number {
  const base = Math.min(300_000, 1000 * 2 ** Math.min(attempts - 1, 20))
  return Math.round(base * (1 - 0.2 * random))
}
