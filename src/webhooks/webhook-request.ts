import { createHash } from 'node:crypto'
import type { StoredEvent } from '../store/store.js'
import { packageVersion } from '../version.js'
import type { WebhookSetting } from './webhook-settings.js'
import { signWebhook } from './webhook-signature.js'

/**
 * One delivery attempt of a batch of events to an endpoint: the body, its Standard Webhooks
 * headers, the POST, and what its outcome means for a retry.
 */

/** What became of one attempt. */
export type WebhookOutcome =
  | { ok: true; status: number; ms: number }
  | {
      ok: false
      /** The HTTP status when the receiver answered. */
      status: number | null
      error: string
      /**
       * The request may have reached the receiver (a timeout or a reset after sending): a retry
       * may deliver it twice. False when it certainly did not (refused, no such host) or the
       * receiver answered.
       */
      uncertain: boolean
      ms: number
    }

/** An event as it is sent: the log's fields, times as ISO 8601. */
export function eventPayload(event: StoredEvent): Record<string, unknown> {
  return {
    seq: event.seq,
    type: event.type,
    at: event.at.toISOString(),
    id: event.id,
    recipient: event.recipient,
    data: event.data,
  }
}

/**
 * The `webhook-id` of a batch: the same for every attempt of the same events, so a receiver
 * that saw an attempt whose answer was lost can tell the retry is the same delivery.
 */
export function batchId(endpoint: string, events: readonly StoredEvent[]): string {
  const span = `${endpoint}\n${events[0]!.seq}\n${events.at(-1)!.seq}\n${events.length}`
  return `msg_${createHash('sha256').update(span).digest('base64url').slice(0, 27)}`
}

/** The request body: `{ type, timestamp, data: { events } }`, as the specification shapes payloads. */
export function batchBody(events: readonly StoredEvent[]): string {
  return JSON.stringify({
    type: 'outbox.events',
    timestamp: events.at(-1)!.at.toISOString(),
    data: { events: events.map(eventPayload) },
  })
}

/** Network errors after which the request certainly did not reach the receiver. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'])

function errorCode(error: unknown): string | undefined {
  let e: unknown = error
  for (let depth = 0; depth < 4 && e; depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string') return code
    e = (e as { cause?: unknown }).cause
  }
  return undefined
}

/** POSTs one batch, signed; never throws. */
export async function postBatch(
  endpoint: WebhookSetting,
  events: readonly StoredEvent[],
): Promise<WebhookOutcome> {
  const body = batchBody(events)
  const id = batchId(endpoint.name, events)
  const timestamp = Math.floor(Date.now() / 1000)
  const started = performance.now()
  const ms = () => Math.round(performance.now() - started)
  try {
    const response = await fetch(endpoint.url, {
      method: 'POST',
      body,
      // A redirect is an answer to report, not a place to send signed events to.
      redirect: 'manual',
      signal: AbortSignal.timeout(endpoint.timeoutMs),
      headers: {
        ...endpoint.headers,
        'content-type': 'application/json',
        'user-agent': `outbox/${packageVersion()}`,
        'webhook-id': id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signWebhook(endpoint.key, id, timestamp, body),
      },
    })
    // Read (and drop) the answer so that the connection can be reused.
    const text = await response.text().catch(() => '')
    if (response.status >= 200 && response.status < 300) {
      return { ok: true, status: response.status, ms: ms() }
    }
    const snippet = text.replace(/\s+/g, ' ').trim().slice(0, 200)
    return {
      ok: false,
      status: response.status,
      error: `HTTP ${response.status}${snippet ? `: ${snippet}` : ''}`,
      uncertain: false,
      ms: ms(),
    }
  } catch (error) {
    const code = errorCode(error)
    const timedOut = (error as Error).name === 'TimeoutError'
    return {
      ok: false,
      status: null,
      error: timedOut
        ? `no answer within ${endpoint.timeoutMs} ms`
        : `${code ?? (error as Error).message}`,
      uncertain: timedOut || !code || !NOT_SENT.has(code),
      ms: ms(),
    }
  }
}
