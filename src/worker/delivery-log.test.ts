import { describe, expect, it } from 'vitest'
import type { ClaimedMessage, Completion } from '../store/store.js'
import { deliveryLogLine, LOGGED_RECIPIENTS } from './delivery-log.js'

// Asymmetric matchers are typed `any`; inside object literals they need a type.
const matching = (pattern: RegExp): string => expect.stringMatching(pattern) as string

const createdAt = new Date('2025-01-01T10:00:00Z')
const message = (recipients: number): ClaimedMessage => ({
  id: 'q1',
  messageId: '<m1@example.com>',
  from: 's@example.com',
  pendingRecipients: Array.from({ length: recipients }, (_, i) => `r${i}@example.com`),
  failedRecipients: 0,
  raw: Buffer.from('Subject: secret plans\r\n\r\nthe body\r\n'),
  priority: 'normal',
  attempts: 2,
  backoffStep: 2,
  createdAt,
  expiresAt: new Date(createdAt.getTime() + 86_400_000),
  eightBit: false,
  smtpUtf8: false,
  tags: [],
  upstream: null,
})

function completion(m: ClaimedMessage, replies: [string, number, string][]): Completion {
  const recipients = replies.map(([status, code, reply], i) => ({
    address: m.pendingRecipients[i]!,
    status: status as 'sent' | 'pending' | 'failed',
    code,
    reply,
  }))
  const deferred = recipients.some((r) => r.status === 'pending')
  return {
    id: m.id,
    owner: 'w',
    attempt: {
      worker: 'w',
      startedAt: createdAt,
      durationMs: 42,
      outcome: 'partial',
      error: null,
      recipients,
    },
    recipients,
    status: deferred ? 'deferred' : 'failed',
    dueAt: deferred ? new Date('2025-01-01T10:05:00Z') : null,
    countsTowardBackoff: true,
    waitingForUpstream: false,
    reason: deferred ? 'temporary-failure' : 'rejected',
    captured: false,
  }
}

describe('deliveryLogLine', () => {
  it('names the message, the upstream and each recipient with its status and reply', () => {
    const m = message(3)
    const c = completion(m, [
      ['sent', 250, '250 2.0.0 Ok: queued as 4Xy'],
      ['failed', 550, '550 5.1.1 <r1@example.com>: Recipient address rejected: User unknown'],
      ['pending', 450, '450 4.2.0 <r2@example.com>: Recipient address rejected: try later'],
    ])
    const { fields, text } = deliveryLogLine(
      m,
      c,
      'smtp://mx.example.com:25',
      new Date('2025-01-01T10:01:30Z'),
    )
    expect(fields).toEqual({
      id: 'q1',
      messageId: '<m1@example.com>',
      upstream: 'smtp://mx.example.com:25',
      status: 'deferred',
      outcome: 'partial',
      reason: 'temporary-failure',
      recipients: [
        { to: 'r0@example.com', status: 'sent', code: 250, reply: '250 2.0.0 Ok: queued as 4Xy' },
        {
          to: 'r1@example.com',
          status: 'failed',
          code: 550,
          reply: matching(/^550 5\.1\.1/),
        },
        {
          to: 'r2@example.com',
          status: 'deferred',
          code: 450,
          reply: matching(/^450 4\.2\.0/),
        },
      ],
      attempt: 3,
      delayMs: 90_000,
      durationMs: 42,
      nextAttemptAt: '2025-01-01T10:05:00.000Z',
    })
    expect(text).toBe(
      'q1: status=deferred to=<r0@example.com> (+2 more): 250 2.0.0 Ok: queued as 4Xy (partial, delay=1m30s)',
    )
  })

  it('caps the recipients it lists, and never logs the message itself', () => {
    const m = message(250)
    const c = completion(
      m,
      m.pendingRecipients.map(
        () => ['failed', 550, `550 ${'x'.repeat(1000)}`] as [string, number, string],
      ),
    )
    const { fields, text } = deliveryLogLine(m, c, 'smtp://mx', new Date())
    expect(fields.recipients).toHaveLength(LOGGED_RECIPIENTS)
    expect(fields.moreRecipients).toBe(250 - LOGGED_RECIPIENTS)
    expect(fields.recipients[0]!.reply.length).toBeLessThanOrEqual(301)
    const line = JSON.stringify(fields) + text
    expect(line).not.toMatch(/secret plans|the body/)
    expect(fields).not.toHaveProperty('nextAttemptAt')
  })
})
