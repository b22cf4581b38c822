import { randomUUID } from 'node:crypto'
import { ErrorCodes, InvalidMessageError } from '../errors.js'
import type { ComposeLimits } from './compose.js'
import { formatBytes } from './format-bytes.js'
import { findHeaderSection, headerText, readHeader, traceFieldsEnd } from './header-section.js'
import { decodeHeaderText } from './header-text.js'
import { toCrlf } from './line-endings.js'
import { transportNeeds } from './transport-needs.js'
import type { ComposedMessage } from './types.js'
import { isValidAddress } from './validate-mail.js'

/** A message that is already composed: the envelope and the RFC 5322 bytes. */
export interface RawMessageInput {
  /** Envelope sender (MAIL FROM). */
  from: string
  /** Envelope recipients (RCPT TO), Bcc included. */
  to: string[]
  /** The message bytes, stored and sent unchanged (but for a missing Message-ID or blank line). */
  raw: Buffer | string
}

const CRLF = Buffer.from('\r\n')

/** The Subject as people read it, for listings and search; the stored bytes keep it as sent. */
async function subjectOf(headerBlock: string): Promise<string | null> {
  const subject = readHeader(headerBlock, 'subject')
  return subject === null ? null : decodeHeaderText(subject)
}

/**
 * Checks an already composed message and reads what listings need from its headers. The bytes
 * are kept as they are; only a missing Message-ID is added, so that retries and receivers can
 * recognise the message, and a missing blank line between the headers and the body.
 */
export async function composeRaw(
  input: RawMessageInput,
  limits: ComposeLimits,
): Promise<ComposedMessage> {
  if (!input || typeof input !== 'object') {
    throw new InvalidMessageError('message', 'A raw message must be { from, to, raw }.')
  }
  // An empty sender is the null reverse-path (MAIL FROM:<>) of bounces and notifications.
  if (typeof input.from !== 'string' || (input.from !== '' && !isValidAddress(input.from))) {
    throw new InvalidMessageError(
      'from',
      `The envelope sender ${JSON.stringify(input.from)} is not a valid address.`,
    )
  }
  if (!Array.isArray(input.to) || input.to.length === 0) {
    throw new InvalidMessageError(
      'to',
      'The message has no recipients: `to` must list at least one address.',
    )
  }
  input.to.forEach((rcpt, i) => {
    if (typeof rcpt !== 'string' || !isValidAddress(rcpt)) {
      throw new InvalidMessageError(
        `to[${i}]`,
        `The recipient ${JSON.stringify(rcpt)} is not a valid address.`,
      )
    }
  })
  const given = Buffer.isBuffer(input.raw)
    ? input.raw
    : typeof input.raw === 'string'
      ? Buffer.from(input.raw)
      : null
  if (!given || given.length === 0) {
    throw new InvalidMessageError(
      'raw',
      '`raw` must hold the message bytes (a Buffer or a string).',
    )
  }
  let raw = toCrlf(given)
  // SMTP ends DATA on a line of its own; a client would add this CRLF on the wire anyway.
  if (raw.length < 2 || raw[raw.length - 2] !== 0x0d || raw[raw.length - 1] !== 0x0a) {
    raw = Buffer.concat([raw, Buffer.from('\r\n')])
  }
  // The header section as receivers will read it. Input without a blank line after its
  // headers (or without headers at all) gets one where the body starts, as Postfix does:
  // otherwise the Message-ID added below, or a Received header, would turn the first line of
  // the body into a header, and listings would read "headers" out of the body.
  const section = findHeaderSection(raw)
  if (section.endedBy === 'body') {
    raw = Buffer.concat([raw.subarray(0, section.end), CRLF, raw.subarray(section.end)])
  }
  const headerBlock = headerText(raw, section)
  let messageId = readHeader(headerBlock, 'message-id')
  if (!messageId) {
    const domain =
      (input.from && input.from.slice(input.from.lastIndexOf('@') + 1)) || 'outbox.local'
    messageId = `<${randomUUID()}@${domain}>`
    // Below the trace fields (the listener's own Received: among them), never above them.
    const at = traceFieldsEnd(raw, findHeaderSection(raw))
    raw = Buffer.concat([
      raw.subarray(0, at),
      Buffer.from(`Message-ID: ${messageId}\r\n`),
      raw.subarray(at),
    ])
  }
  if (raw.length > limits.maxMessageSize) {
    throw new InvalidMessageError(
      'raw',
      `The message is ${formatBytes(raw.length)}, over the ${formatBytes(limits.maxMessageSize)} limit.`,
      { code: ErrorCodes.MESSAGE_TOO_LARGE },
    )
  }
  const envelope = { from: input.from, to: [...new Set(input.to)] }
  return {
    messageId,
    envelope,
    raw,
    subject: await subjectOf(headerBlock),
    ...transportNeeds(raw, envelope),
  }
}
