import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * Signatures as the Standard Webhooks specification (standardwebhooks.com) defines them: an
 * HMAC-SHA256, keyed with the endpoint's secret, of `<webhook-id>.<webhook-timestamp>.<body>`,
 * sent base64-encoded as `webhook-signature: v1,<signature>`. Receivers verify it with any
 * Standard Webhooks library, or with {@link verifyWebhook}.
 */

/** The `webhook-signature` value for one request. */
export function signWebhook(key: Buffer, id: string, timestamp: number, body: string): string {
  const mac = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')
  return `v1,${mac}`
}

/** The key a secret stands for: the bytes after `whsec_` (base64), or the text's own bytes. */
export function webhookKey(secret: string): Buffer {
  return secret.startsWith('whsec_')
    ? Buffer.from(secret.slice('whsec_'.length), 'base64')
    : Buffer.from(secret, 'utf8')
}

/**
 * Whether a received request is signed with `secret` and recent (within `toleranceSec` of now,
 * against replays). `headers` as Node gives them (lower-case names).
 */
export function verifyWebhook(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  body: string,
  options: { toleranceSec?: number; now?: number } = {},
): boolean {
  const one = (name: string) => {
    const v = headers[name]
    return Array.isArray(v) ? v[0] : v
  }
  const id = one('webhook-id')
  const timestamp = Number(one('webhook-timestamp'))
  const signatures = one('webhook-signature')
  if (!id || !Number.isInteger(timestamp) || !signatures) return false
  const now = Math.floor((options.now ?? Date.now()) / 1000)
  if (Math.abs(now - timestamp) > (options.toleranceSec ?? 300)) return false
  const expected = Buffer.from(signWebhook(webhookKey(secret), id, timestamp, body))
  // Several signatures may be sent (during a key rotation), separated by spaces.
  return signatures.split(' ').some((candidate) => {
    const given = Buffer.from(candidate)
    return given.length === expected.length && timingSafeEqual(given, expected)
  })
}
