import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import type { OutboxEvent } from '../events.js'
import { silentLogger } from '../logger.js'
import type { MessageDetail, RecipientOutcome } from '../store/store.js'
import { failureLogLine, startFailureLog, type FailureSource } from './failure-log.js'

const now = new Date('2030-01-02T03:04:05.000Z')
const attempt = (
  status: 'sent' | 'failed' | 'deferred',
  recipients: RecipientOutcome[],
  error: string | null = null,
): OutboxEvent => ({
  type: 'attempt',
  id: 'q1',
  status,
  reason: status === 'failed' ? 'rejected' : null,
  queuedMs: 5,
  attempt: {
    worker: 'w',
    startedAt: now,
    durationMs: 1,
    outcome: status,
    error,
    recipients,
  },
})
const rcpt = (
  address: string,
  status: RecipientOutcome['status'],
  reply = '250 OK',
): RecipientOutcome => ({ address, status, code: Number(reply.slice(0, 3)) || null, reply })

describe('failureLogLine', () => {
  it('is null for anything but a message failing for good', () => {
    expect(failureLogLine(attempt('sent', [rcpt('a@x.test', 'sent')]), now)).toBeNull()
    expect(
      failureLogLine(attempt('deferred', [rcpt('a@x.test', 'pending', '451 later')]), now),
    ).toBeNull()
    expect(failureLogLine({ type: 'enqueued', id: 'q1', priority: 'normal' }, now)).toBeNull()
  })

  it('names the failed recipients and the last one’s reply', () => {
    const event = attempt('failed', [
      rcpt('a@x.test', 'failed', '550 No such user a'),
      rcpt('b@x.test', 'sent'),
      rcpt('c@x.test', 'failed', '550 No such user c'),
    ])
    expect(failureLogLine(event, now)).toEqual({
      time: '2030-01-02T03:04:05.000Z',
      id: 'q1',
      reason: 'rejected',
      recipients: ['a@x.test', 'c@x.test'],
      reply: '550 No such user c',
    })
  })

  it('caps the recipients and falls back to the attempt error', () => {
    const many = Array.from({ length: 12 }, (_, i) => rcpt(`r${i}@x.test`, 'failed', ''))
    const line = failureLogLine(attempt('failed', many, 'connection reset'), now)!
    expect(line.recipients).toHaveLength(10)
    expect(line.moreRecipients).toBe(2)
    expect(line.reply).toBe('connection reset')
  })
})

describe('startFailureLog', () => {
  function setup(getMessage: FailureSource['admin']['getMessage']) {
    let listener: (event: OutboxEvent) => void = () => {}
    const source: FailureSource = {
      observe(l) {
        listener = l
        return () => (listener = () => {})
      },
      admin: { getMessage },
    }
    const stream = new PassThrough()
    let text = ''
    stream.on('data', (chunk: Buffer) => (text += chunk.toString()))
    const log = startFailureLog(source, stream, silentLogger)
    return {
      emit: (event: OutboxEvent) => listener(event),
      log,
      lines: () =>
        text
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as object),
    }
  }

  it('reads recipients that failed in earlier attempts from the store', async () => {
    const detail = {
      recipientStatus: [
        { address: 'a@x.test', status: 'failed', code: 550, reply: '550 gone' },
        { address: 'b@x.test', status: 'sent', code: 250, reply: '250 OK' },
      ],
    } as MessageDetail
    const { emit, log, lines } = setup(() => Promise.resolve(detail))
    emit(attempt('failed', [rcpt('b@x.test', 'sent')]))
    await log.close()
    expect(lines()).toEqual([
      expect.objectContaining({ id: 'q1', recipients: ['a@x.test'], reply: '550 gone' }),
    ])
    // Closed: later events are not written.
    emit(attempt('failed', [rcpt('c@x.test', 'failed', '550 no')]))
    expect(lines()).toHaveLength(1)
  })

  it('still writes the line when the store cannot be read', async () => {
    const { emit, log, lines } = setup(() => Promise.reject(new Error('store closed')))
    emit(attempt('failed', [rcpt('b@x.test', 'sent')], null))
    await log.close()
    expect(lines()).toEqual([expect.objectContaining({ id: 'q1', recipients: [], reply: null })])
  })
})
