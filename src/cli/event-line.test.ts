import { describe, expect, it } from 'vitest'
import type { StoredEvent } from '../store/store.js'
import { eventLine, eventSummary } from './event-line.js'

const event = (e: Partial<StoredEvent>): StoredEvent => ({
  seq: '1',
  type: 'sent',
  at: new Date('2026-12-02T23:02:05.599Z'),
  id: '01m8wfwrw71pat5rzt8y',
  recipient: 'a@example.com',
  data: {},
  ...e,
})

describe('eventSummary', () => {
  it.each([
    [{ type: 'sent', data: { code: 250, reply: '250 OK', upstream: 'ses' } }, '250 OK; via ses'],
    [{ type: 'failed', data: { code: 550, reply: '550 No such user' } }, '550 No such user'],
    [{ type: 'suppressed', data: { code: null, reply: null } }, ''],
    [{ type: 'bounced', data: { code: 550, reply: null } }, '550'],
    [
      {
        type: 'deferred',
        data: {
          reason: 'temporary-failure',
          error: '451 later',
          dueAt: '2026-12-03T00:00:00.000Z',
          attempts: 2,
        },
      },
      'temporary-failure; 451 later; attempt 2; next 2026-12-03T00:00:00.000Z',
    ],
    [{ type: 'expired', data: { error: 'too old' } }, 'too old'],
    [
      { type: 'queued', data: { from: 'shop@example.com', to: ['a@x', 'b@x'], subject: 'Hi' } },
      'from shop@example.com; 2 recipients; "Hi"',
    ],
    [{ type: 'held', data: {} }, ''],
  ] as [Partial<StoredEvent>, string][])('%o → %s', (e, summary) => {
    expect(eventSummary(event(e))).toBe(summary)
  })
})

describe('eventLine', () => {
  it('time, type (aligned), queue id, recipient or -, summary', () => {
    expect(eventLine(event({ data: { reply: '250 OK', upstream: 'default' } }))).toBe(
      '2026-12-02T23:02:05.599Z  sent        01m8wfwrw71pat5rzt8y  a@example.com  250 OK; via default',
    )
    expect(eventLine(event({ type: 'held', recipient: null }))).toBe(
      '2026-12-02T23:02:05.599Z  held        01m8wfwrw71pat5rzt8y  -',
    )
  })

  it('keeps a stranger’s reply on one line and its escape sequences off the terminal', () => {
    const line = eventLine(
      event({ type: 'failed', data: { reply: '550-No such user\r\n550 \u001b[2Jsee https://x' } }),
    )
    expect(line).toMatch(/a@example\.com {2}550-No such user 550 \\x1b\[2Jsee https:\/\/x$/)
    expect(eventLine(event({ data: { reply: 'x'.repeat(500) } })).length).toBeLessThan(260)
  })
})
