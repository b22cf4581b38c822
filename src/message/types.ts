import type { Options as MailComposerOptions } from 'nodemailer/lib/mail-composer'

/**
 * The fields of a message, as Nodemailer's `sendMail()` takes them: `from`, `to`, `cc`, `bcc`,
 * `replyTo`, `subject`, `text`, `html`, `attachments`, `headers`, `messageId`, `date`, … .
 * A field Nodemailer does not know is refused, so a typo (`attachements`) is an error rather
 * than a silently dropped attachment.
 */
export type MailInput = MailComposerOptions

/**
 * How urgently a message goes out.
 * - `now`: delivered inside `send()`; if the upstream fails, the message stays queued and is
 *   retried like any other.
 * - `high`, `normal`, `low`: delivered by a worker in that order.
 */
export type Priority = 'now' | 'high' | 'normal' | 'low'

/** Priorities in the order workers take them. */
export const PRIORITIES: readonly Priority[] = ['now', 'high', 'normal', 'low']

/**
 * Where a message is in its life.
 * - `queued`: waiting to be sent (ready, or waiting for its `sendAt`).
 * - `sending`: leased by a worker that is delivering it.
 * - `deferred`: failed for a temporary reason; waits for its next attempt.
 * - `sent`: every recipient accepted it (or it was captured).
 * - `failed`: at least one recipient failed for good, or the message expired.
 * - `held`: set aside by an operator until released.
 */
export type MessageStatus = 'queued' | 'sending' | 'deferred' | 'sent' | 'failed' | 'held'

/** Every status, in the order they are usually shown. */
export const MESSAGE_STATUSES: readonly MessageStatus[] = [
  'queued',
  'sending',
  'deferred',
  'sent',
  'failed',
  'held',
]

/**
 * Where one recipient of a message is: still to be tried, or settled; `bounced` and
 * `complained` are what came back after the upstream accepted it (a DSN, an ARF report).
 */
export type RecipientStatus = 'pending' | 'sent' | 'failed' | 'bounced' | 'complained'

/** Options of one `send()`. */
export interface SendOptions {
  /**
   * How urgently to deliver.
   * @default 'normal'
   */
  priority?: Priority
  /** Deliver no earlier than this time. */
  sendAt?: Date | string | number
  /**
   * A key unique to this piece of mail (e.g. `order-42-receipt`). A second `send()` with the
   * same key stores nothing and returns the first message's id, so a retried web request
   * cannot send a receipt twice.
   */
  idempotencyKey?: string
  /** Labels for finding the message later (`outbox list --tag receipt`); routes match on them. */
  tags?: string[]
  /**
   * Send it through this named upstream (one of the `upstreams` option, or `default`), whatever
   * the routes say, with no fallback.
   */
  upstream?: string
  /**
   * Enqueue inside your own open database transaction (PostgreSQL store only): pass the `pg`
   * client on which you ran `BEGIN`. The message is stored, and will be sent, only if your
   * transaction commits. A `now` priority then waits for a worker like `high`.
   */
  db?: { query(text: string, values?: unknown[]): Promise<unknown> }
  /**
   * Send even to recipients on the suppression list (mail that must go, such as a password
   * reset, by your choice).
   */
  ignoreSuppression?: boolean
}

/** The SMTP envelope: who the message is from and whom it goes to (Bcc included). */
export interface Envelope {
  from: string
  to: string[]
}

/** A message after composing: exactly what will be stored and sent. */
export interface ComposedMessage {
  /** The Message-ID header, with angle brackets; fixed at enqueue. */
  messageId: string
  envelope: Envelope
  /** The RFC 5322 bytes, CRLF line endings; never contains a Bcc header. */
  raw: Buffer
  /** The Subject as people read it (encoded words and 8-bit UTF-8 decoded), for listings; `null` if none. */
  subject: string | null
  /** It has 8-bit data: relayed with `BODY=8BITMIME` (see `transportNeeds`). */
  eightBit: boolean
  /** An envelope address is not ASCII: relayed with `SMTPUTF8`. */
  smtpUtf8: boolean
}

/** What `send()` returns. */
export interface SendResult {
  /** Outbox's queue id: use it with `outbox show`, `retry`, `hold`, … */
  id: string
  /** The Message-ID header of the stored message, with angle brackets. */
  messageId: string
  /** True when an earlier message had the same `idempotencyKey` and nothing new was stored. */
  duplicate: boolean
  /**
   * The message's status right after `send()`: `queued`, the outcome of a `now` delivery, or
   * `failed` when every recipient is on the suppression list.
   */
  status: MessageStatus
  /** Recipients on the suppression list: failed at once (reason `suppressed`), never tried. */
  suppressed: string[]
}
