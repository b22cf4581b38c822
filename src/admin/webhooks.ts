import { InvalidMessageError, describeValue } from '../errors.js'
import type { Store } from '../store/store.js'
import { consumerName } from '../webhooks/webhook-dispatcher.js'
import type { WebhookSetting } from '../webhooks/webhook-settings.js'
import { readWebhookState, type EventRange } from '../webhooks/webhook-state.js'

/** One webhook endpoint as `outbox webhooks` and the dashboard show it. */
export interface WebhookStatus {
  name: string
  /** Without its query string, which may hold a token. */
  url: string
  events: string[]
  /** `ok`, `failing` (retrying a batch), `gave-up` (some batches were given up), `new` (never delivered anything yet). */
  state: 'ok' | 'failing' | 'gave-up' | 'new'
  /** Events of its types not delivered yet: after its position, plus those given up and being sent again. */
  backlog: number
  delivered: number
  requests: number
  /** Requests whose outcome was unknown (a timeout or reset after sending): each may have been delivered twice. */
  uncertain: number
  attempts: number
  lastError: string | null
  lastErrorAt: Date | null
  lastSuccessAt: Date | null
  lastStatus: number | null
  failingSince: Date | null
  nextAttemptAt: Date | null
  /** Batches given up, and events in them. */
  failed: { batches: number; events: number }
  /** Events being sent again after `outbox webhooks retry`. */
  retrying: number
  /** The worker process delivering to it, while its lease lasts. */
  worker: string | null
}

/** Webhook endpoints for operators: their state, and retrying what was given up. */
export interface WebhookAdmin {
  list(): Promise<WebhookStatus[]>
  /** Sends again what the endpoints named (all when none) gave up on. Returns how many it asked. */
  retry(names?: readonly string[]): Promise<number>
}

const date = (v: string | null) => (v ? new Date(v) : null)
const sum = (ranges: readonly EventRange[]) => ranges.reduce((n, r) => n + r.events, 0)

function shownUrl(url: string): string {
  const u = new URL(url)
  u.search = u.search ? '?…' : ''
  return u.href
}

export function createWebhookAdmin(
  store: Store,
  webhooks: readonly WebhookSetting[],
): WebhookAdmin {
  return {
    async list() {
      const consumers = new Map((await store.consumers()).map((c) => [c.name, c]))
      return Promise.all(
        webhooks.map(async (w): Promise<WebhookStatus> => {
          const consumer = consumers.get(consumerName(w.name))
          const s = readWebhookState(consumer?.state ?? {})
          const pending = await store.countEvents({
            after: s.inFlight?.after ?? consumer?.cursor ?? null,
            types: w.events,
          })
          const leased =
            consumer?.leaseOwner && consumer.leaseExpiresAt && consumer.leaseExpiresAt > new Date()
          return {
            name: w.name,
            url: shownUrl(w.url),
            events: [...w.events],
            state: s.failingSince
              ? 'failing'
              : s.failures.length > 0
                ? 'gave-up'
                : s.delivered === 0 && s.requests === 0
                  ? 'new'
                  : 'ok',
            backlog: consumer ? pending + sum(s.failures) + sum(s.retrying) : 0,
            delivered: s.delivered,
            requests: s.requests,
            uncertain: s.uncertain,
            attempts: s.attempts,
            lastError: s.lastError,
            lastErrorAt: date(s.lastErrorAt),
            lastSuccessAt: date(s.lastSuccessAt),
            lastStatus: s.lastStatus,
            failingSince: date(s.failingSince),
            nextAttemptAt: date(s.nextAttemptAt),
            failed: { batches: s.failures.length, events: sum(s.failures) },
            retrying: sum(s.retrying),
            worker: leased ? consumer.leaseOwner : null,
          }
        }),
      )
    },

    async retry(names) {
      const known = new Set(webhooks.map((w) => w.name))
      for (const name of names ?? []) {
        if (!known.has(name)) {
          throw new InvalidMessageError(
            'webhook',
            `No webhook is named ${describeValue(name)}; the configured ones are ${[...known].join(', ') || 'none'}.`,
          )
        }
      }
      const chosen = names && names.length > 0 ? names : [...known]
      if (chosen.length === 0) return 0
      return store.requestConsumerRetry(chosen.map(consumerName))
    },
  }
}
