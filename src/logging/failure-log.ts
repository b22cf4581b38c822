import type { Writable } from 'node:stream'
import type { Admin } from '../admin/admin.js'
import type { OutboxEvent } from '../events.js'
import type { Logger } from '../logger.js'
import type { RecipientStatus } from '../message/types.js'
import { LOGGED_RECIPIENTS } from '../worker/delivery-log.js'

/** One line of the failure log: a message that failed for good. Never its content. */
export interface FailureLogLine {
  /** When the failure was recorded (ISO 8601). */
  time: string
  /** Outbox's queue id (`outbox show ID`). */
  id: string
  /** The recipients that failed (at most {@link LOGGED_RECIPIENTS}). */
  recipients: string[]
  /** Failed recipients beyond those listed. */
  moreRecipients?: number
  /** Why: `rejected`, `expired`, or the error that failed it. */
  reason: string | null
  /** The last failed recipient's reply (`550 5.1.1 No such user`), else the attempt's error. */
  reply: string | null
}

/** Longest reply kept: an upstream's multi-line reply can run to kilobytes. */
const REPLY_CHARS = 1000

type Recipient = { address: string; status: RecipientStatus; reply: string | null }

/** The failed recipients and the last one's reply, with the attempt's error to fall back on. */
function describeFailed(
  recipients: readonly Recipient[],
  error: string | null,
): Pick<FailureLogLine, 'recipients' | 'moreRecipients' | 'reply'> {
  const failed = recipients.filter((r) => r.status === 'failed' || r.status === 'bounced')
  const last = failed.at(-1)?.reply || error
  return {
    recipients: failed.slice(0, LOGGED_RECIPIENTS).map((r) => r.address),
    ...(failed.length > LOGGED_RECIPIENTS
      ? { moreRecipients: failed.length - LOGGED_RECIPIENTS }
      : {}),
    reply: last ? (last.length > REPLY_CHARS ? `${last.slice(0, REPLY_CHARS)}…` : last) : null,
  }
}

/**
 * The failure log line of an event, or null if the event is not a message failing for good.
 * Its `recipients` are empty when the recipients failed in earlier attempts (this attempt
 * sent the last pending ones): {@link startFailureLog} then reads them from the store. Pure.
 */
export function failureLogLine(event: OutboxEvent, now: Date): FailureLogLine | null {
  if (event.type !== 'attempt' || event.status !== 'failed') return null
  return {
    time: now.toISOString(),
    id: event.id,
    reason: event.reason,
    ...describeFailed(event.attempt.recipients, event.attempt.error),
  }
}

/** What the failure log reads: the Outbox's events, and the store for earlier failures. */
export interface FailureSource {
  observe(listener: (event: OutboxEvent) => void): () => void
  readonly admin: Pick<Admin, 'getMessage'>
}

/** A failure log being fed. */
export interface FailureLog {
  /** Stops listening, writes the lines still being completed from the store. Never rejects. */
  close(): Promise<void>
}

/**
 * Writes one JSON line to `stream` for each message this process records as failed for good.
 * Messages that expire while deferred (failed by the store, without an attempt) are not seen.
 * Close it before the store: a line may still need it.
 */
export function startFailureLog(
  source: FailureSource,
  stream: Writable,
  logger: Logger,
): FailureLog {
  const completing = new Set<Promise<void>>()
  const write = (line: FailureLogLine) => stream.write(`${JSON.stringify(line)}\n`)

  async function complete(line: FailureLogLine): Promise<void> {
    try {
      const detail = await source.admin.getMessage(line.id)
      write({ ...line, ...describeFailed(detail.recipientStatus, line.reply) })
    } catch (error) {
      // Deleted meanwhile, or the store is away: the line says what the attempt knew.
      logger.warn(
        { id: line.id, err: (error as Error).message },
        'failure log: could not read the failed recipients from the store',
      )
      write(line)
    }
  }

  const unsubscribe = source.observe((event) => {
    const line = failureLogLine(event, new Date())
    if (!line) return
    if (line.recipients.length > 0) {
      write(line)
      return
    }
    const pending = complete(line).finally(() => completing.delete(pending))
    completing.add(pending)
  })

  return {
    async close() {
      unsubscribe()
      await Promise.all(completing)
    },
  }
}
