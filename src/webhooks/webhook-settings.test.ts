import { describe, expect, it } from 'vitest'
import { resolveWebhookSettings } from './webhook-settings.js'

const secret = 'x'.repeat(32)

describe('resolveWebhookSettings', () => {
  it('accepts an endpoint, naming it by host and path, with defaults', () => {
    const { settings, problems } = resolveWebhookSettings([
      { url: 'https://hooks.example.com/outbox', events: ['failed', 'bounced', 'failed'], secret },
    ])
    expect(problems).toEqual([])
    expect(settings[0]).toMatchObject({
      name: 'hooks.example.com/outbox',
      events: ['failed', 'bounced'],
      batchSize: 100,
      timeoutMs: 10_000,
      retryForMs: 86_400_000,
    })
    expect(settings[0]!.key.equals(Buffer.from(secret))).toBe(true)
  })

  it('reads a whsec_ secret as base64', () => {
    const key = Buffer.alloc(32, 7)
    const { settings } = resolveWebhookSettings([
      { url: 'http://127.0.0.1:9/x', events: ['sent'], secret: `whsec_${key.toString('base64')}` },
    ])
    expect(settings[0]!.key.equals(key)).toBe(true)
  })

  it('names every problem on a line of its own, never showing the secret', () => {
    const { settings, problems } = resolveWebhookSettings([
      { url: 'not a url', events: ['sent', 'delivered'], secret: 'short-secret' },
      {
        url: 'ftp://example.com/',
        events: [],
        secret: 'whsec_AAAA',
        headers: { 'webhook-id': 'x' },
        colour: 1,
      },
      { url: 'https://u:p@example.com/', events: ['sent'], secret, batchSize: 0, timeout: 'soon' },
    ])
    expect(settings).toEqual([])
    expect(problems).toEqual([
      'webhooks[0].url: not a URL: "not a url"; give one such as https://hooks.example.com/outbox',
      'webhooks[0].events[1]: unknown event type "delivered"; the types are queued, sent, deferred, failed, held, released, retried, deleted, expired, bounced, complained, suppressed',
      'webhooks[0].secret: too short: 12 characters, at least 24 needed (openssl rand -base64 32)',
      'webhooks[1].colour: unknown setting; the known ones are url, events, secret, headers, name, batchSize, timeout, retryFor',
      'webhooks[1].url: ftp: is not HTTP: give an https:// (or http://) URL',
      'webhooks[1].events: expected a list of event types, from queued, sent, deferred, failed, held, released, retried, deleted, expired, bounced, complained, suppressed',
      'webhooks[1].secret: too short: 3 bytes after whsec_, at least 24 needed (openssl rand -base64 32)',
      'webhooks[1].headers.webhook-id: set by Outbox itself; leave it out',
      'webhooks[2].url: credentials in the URL would be logged: put them in `headers` (authorization) instead',
      'webhooks[2].batchSize: expected a whole number from 1 to 1000; got 0',
      'webhooks[2].timeout: expected a duration such as 10s; got "soon"',
    ])
    expect(problems.join('\n')).not.toContain('short-secret')
  })

  it('refuses two endpoints of the same name', () => {
    const one = { url: 'https://a.example.com/x', events: ['sent'], secret }
    expect(resolveWebhookSettings([one, one]).problems).toEqual([
      'webhooks[1].name: "a.example.com/x" is also webhooks[0]\'s; give each endpoint its own name',
    ])
    expect(resolveWebhookSettings({}).problems).toHaveLength(1)
    expect(resolveWebhookSettings(undefined)).toEqual({ settings: [], problems: [] })
  })
})
