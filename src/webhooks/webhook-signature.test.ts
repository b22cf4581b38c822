import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { signWebhook, verifyWebhook, webhookKey } from './webhook-signature.js'

describe('Standard Webhooks signatures', () => {
  // The specification's own example (standard-webhooks/spec, "Verifying webhook authenticity").
  it('matches the specification example', () => {
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
    const id = 'msg_p5jXN8AQM9LWM0D4loKWxJek'
    const timestamp = 1614265330
    const body = '{"test": 2432232314}'
    expect(signWebhook(webhookKey(secret), id, timestamp, body)).toBe(
      'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    )
    const headers = {
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': 'v1,bad v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    }
    expect(verifyWebhook(secret, headers, body, { now: timestamp * 1000 })).toBe(true)
    // Too old: a replay.
    expect(verifyWebhook(secret, headers, body, { now: (timestamp + 600) * 1000 })).toBe(false)
    expect(verifyWebhook(secret, headers, body + ' ', { now: timestamp * 1000 })).toBe(false)
  })

  it('signs with the text itself when the secret has no whsec_ prefix', () => {
    const key = webhookKey('plain secret of enough length!!')
    const mac = createHmac('sha256', 'plain secret of enough length!!')
      .update('i.1.b')
      .digest('base64')
    expect(signWebhook(key, 'i', 1, 'b')).toBe(`v1,${mac}`)
  })
})
