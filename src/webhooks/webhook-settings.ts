import { EVENT_TYPES, type EventType } from '../store/store.js'
import { parseDuration } from '../config/duration.js'

/**
 * The `webhooks` setting: endpoints that receive the events of the log over HTTP, as the
 * Standard Webhooks specification describes. Like the DKIM and routing settings, every problem
 * is reported, one line each, naming the setting by its path (`webhooks[0].url`). A secret's
 * text is never part of a message.
 */

/** One endpoint as written. */
export interface WebhookInput {
  /** `https://…` (or `http://`) URL the events are POSTed to. */
  url: string
  /** The event types it receives. @example ['failed', 'bounced'] */
  events: EventType[]
  /**
   * The signing secret: `whsec_` and base64 (the Standard Webhooks form; the key is the decoded
   * bytes), or any text of at least 24 characters (the key is its UTF-8 bytes).
   */
  secret: string
  /** Extra request headers, such as an `authorization` the receiver wants. */
  headers?: Record<string, string>
  /** Its name in `outbox webhooks` and the store (keep it when the URL changes). @default the URL's host and path */
  name?: string
  /** Most events in one request. @default 100 */
  batchSize?: number
  /** Longest wait for the receiver's answer. @default '10s' */
  timeout?: string | number
  /** How long a batch is retried before it is given up (`outbox webhooks retry` sends it again). @default '24h' */
  retryFor?: string | number
}

/** One endpoint after validation. */
export interface WebhookSetting {
  name: string
  url: string
  events: readonly EventType[]
  /** The HMAC key. */
  key: Buffer
  headers: Readonly<Record<string, string>>
  batchSize: number
  timeoutMs: number
  retryForMs: number
}

/** Shortest signing key: the Standard Webhooks specification asks for 24 to 64 bytes. */
export const MIN_SECRET_BYTES = 24
const KNOWN_KEYS = [
  'url',
  'events',
  'secret',
  'headers',
  'name',
  'batchSize',
  'timeout',
  'retryFor',
]
/** Headers a webhook's own `headers` may not set: the signature and the body's framing are ours. */
const RESERVED_HEADERS = new Set([
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'content-type',
  'content-length',
  'host',
  'transfer-encoding',
  'connection',
])
const NAME = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$/
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)
const show = (v: unknown): string => JSON.stringify(v) ?? String(v)

/** The key a secret gives, or what is wrong with it (never the secret itself). */
function signingKey(secret: unknown): { key: Buffer } | { problem: string } {
  if (typeof secret !== 'string' || secret === '') {
    return {
      problem: `missing: give whsec_<base64> or a random text of at least ${MIN_SECRET_BYTES} characters (openssl rand -base64 32)`,
    }
  }
  if (secret.startsWith('whsec_')) {
    const encoded = secret.slice('whsec_'.length)
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded))
      return { problem: 'whsec_ must be followed by base64' }
    const key = Buffer.from(encoded, 'base64')
    if (key.length < MIN_SECRET_BYTES) {
      return {
        problem: `too short: ${key.length} bytes after whsec_, at least ${MIN_SECRET_BYTES} needed (openssl rand -base64 32)`,
      }
    }
    return { key }
  }
  const key = Buffer.from(secret, 'utf8')
  if (key.length < MIN_SECRET_BYTES) {
    return {
      problem: `too short: ${key.length} characters, at least ${MIN_SECRET_BYTES} needed (openssl rand -base64 32)`,
    }
  }
  return { key }
}

/** The URL of an endpoint, or what is wrong with it. */
function endpointUrl(raw: unknown): { url: URL } | { problem: string } {
  if (typeof raw !== 'string' || raw.trim() === '')
    return { problem: 'missing: give the https:// URL of the receiver' }
  let url: URL
  try {
    url = new URL(raw.trim())
  } catch {
    return { problem: `not a URL: ${show(raw)}; give one such as https://hooks.example.com/outbox` }
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { problem: `${url.protocol} is not HTTP: give an https:// (or http://) URL` }
  }
  if (url.username || url.password) {
    return {
      problem:
        'credentials in the URL would be logged: put them in `headers` (authorization) instead',
    }
  }
  return { url }
}

/** Validates the `webhooks` setting; every problem is one line naming its path. */
export function resolveWebhookSettings(input: unknown): {
  settings: readonly WebhookSetting[]
  problems: string[]
} {
  const problems: string[] = []
  if (input === undefined || input === null) return { settings: [], problems }
  if (!Array.isArray(input)) {
    return {
      settings: [],
      problems: [
        'webhooks: expected a list of endpoints, such as [{"url":"https://…","events":["failed"],"secret":"…"}]',
      ],
    }
  }
  const settings: WebhookSetting[] = []
  const names = new Map<string, number>()
  input.forEach((raw: unknown, i) => {
    const at = `webhooks[${i}]`
    if (!isObject(raw)) {
      problems.push(`${at}: expected an object with url, events and secret; got ${show(raw)}`)
      return
    }
    const before = problems.length
    for (const key of Object.keys(raw)) {
      if (!KNOWN_KEYS.includes(key))
        problems.push(`${at}.${key}: unknown setting; the known ones are ${KNOWN_KEYS.join(', ')}`)
    }
    const url = endpointUrl(raw.url)
    if ('problem' in url) problems.push(`${at}.url: ${url.problem}`)
    const events: EventType[] = []
    if (!Array.isArray(raw.events) || raw.events.length === 0) {
      problems.push(`${at}.events: expected a list of event types, from ${EVENT_TYPES.join(', ')}`)
    } else {
      for (const [j, type] of raw.events.entries()) {
        if (typeof type === 'string' && (EVENT_TYPES as readonly string[]).includes(type)) {
          if (!events.includes(type as EventType)) events.push(type as EventType)
        } else {
          problems.push(
            `${at}.events[${j}]: unknown event type ${show(type)}; the types are ${EVENT_TYPES.join(', ')}`,
          )
        }
      }
    }
    const key = signingKey(raw.secret)
    if ('problem' in key) problems.push(`${at}.secret: ${key.problem}`)
    const headers: Record<string, string> = {}
    if (raw.headers !== undefined) {
      if (!isObject(raw.headers))
        problems.push(`${at}.headers: expected an object of header name → text`)
      else {
        for (const [name, value] of Object.entries(raw.headers)) {
          if (!HEADER_NAME.test(name))
            problems.push(`${at}.headers: ${show(name)} is not a header name`)
          else if (RESERVED_HEADERS.has(name.toLowerCase()))
            problems.push(`${at}.headers.${name}: set by Outbox itself; leave it out`)
          else if (typeof value !== 'string' || /[\r\n\0]/.test(value))
            problems.push(`${at}.headers.${name}: expected one line of text`)
          else headers[name] = value
        }
      }
    }
    const whole = (field: string, min: number, max: number, fallback: number): number => {
      const v = raw[field]
      if (v === undefined) return fallback
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
        problems.push(
          `${at}.${field}: expected a whole number from ${min} to ${max}; got ${show(v)}`,
        )
        return fallback
      }
      return v
    }
    const time = (field: string, min: number, fallback: number, example: string): number => {
      const v = raw[field]
      if (v === undefined) return fallback
      const ms = typeof v === 'number' || typeof v === 'string' ? parseDuration(v) : undefined
      if (ms === undefined || ms < min) {
        problems.push(`${at}.${field}: expected a duration such as ${example}; got ${show(v)}`)
        return fallback
      }
      return ms
    }
    const batchSize = whole('batchSize', 1, 1000, 100)
    const timeoutMs = time('timeout', 100, 10_000, '10s')
    const retryForMs = time('retryFor', 1000, 24 * 3_600_000, '24h')
    let name =
      'url' in url ? `${url.url.host}${url.url.pathname === '/' ? '' : url.url.pathname}` : ''
    if (raw.name !== undefined) {
      if (typeof raw.name !== 'string' || !NAME.test(raw.name)) {
        problems.push(
          `${at}.name: expected letters, digits and . _ : / - (at most 200); got ${show(raw.name)}`,
        )
      } else name = raw.name
    }
    if (problems.length > before || !('url' in url) || !('key' in key)) return
    const earlier = names.get(name)
    if (earlier !== undefined) {
      problems.push(
        `${at}.name: ${show(name)} is also webhooks[${earlier}]'s; give each endpoint its own name`,
      )
      return
    }
    names.set(name, i)
    settings.push(
      Object.freeze({
        name,
        url: url.url.href,
        events: Object.freeze(events),
        key: key.key,
        headers: Object.freeze(headers),
        batchSize,
        timeoutMs,
        retryForMs,
      }),
    )
  })
  return { settings: problems.length > 0 ? [] : Object.freeze(settings), problems }
}
