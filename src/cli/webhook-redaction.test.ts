import { describe, expect, it } from 'vitest'
import { CONFIG_KEYS } from '../config/config-schema.js'
import { hideWebhookValue, redactWebhooks } from './webhook-redaction.js'

const expected = CONFIG_KEYS.webhooks.expected

describe('hideWebhookValue', () => {
  it('writes a webhooks value that did not parse as "***", from any source', () => {
    expect(
      hideWebhookValue(
        `OUTBOX_WEBHOOKS = "[{\\"secret\\":\\"s3cret" from the environment: expected ${expected}`,
      ),
    ).toBe(`OUTBOX_WEBHOOKS = "***" from the environment: expected ${expected}`)
    // Cut at the last " from ": text in the value never shows, whatever it holds.
    expect(
      hideWebhookValue(
        `webhooks = {"secret":"s3cret from here"} from outbox.config.json: expected ${expected}`,
      ),
    ).toBe(`webhooks = "***" from outbox.config.json: expected ${expected}`)
    expect(hideWebhookValue(`--webhooks = "x" from the command line: expected ${expected}`)).toBe(
      `--webhooks = "***" from the command line: expected ${expected}`,
    )
  })

  it('leaves other problems alone', () => {
    const other = 'OUTBOX_MAX_AGE = "x" from the environment: expected a duration'
    expect(hideWebhookValue(other)).toBe(other)
  })
})

describe('redactWebhooks', () => {
  it('hides secrets, header values, URL credentials and queries; keeps the rest', () => {
    expect(
      redactWebhooks([
        {
          url: 'https://u:p@hooks.example.com/a?token=t',
          events: ['failed'],
          secret: 'whsec_abc',
          headers: { authorization: 'Bearer b' },
          name: 'crm',
        },
        'not an object',
        { events: ['sent'] },
      ]),
    ).toEqual([
      {
        url: 'https://***:***@hooks.example.com/a?***',
        events: ['failed'],
        secret: '***',
        headers: { authorization: '***' },
        name: 'crm',
      },
      'not an object',
      { events: ['sent'] },
    ])
    expect(redactWebhooks(null)).toBeNull()
  })
})
