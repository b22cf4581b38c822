import { randomUUID } from 'node:crypto'
import { ErrorCodes, InvalidMessageError } from '../errors.js'
import type { ComposeLimits } from './compose.js'
import { formatBytes } from './format-bytes.js'
import { toCrlf } from './line-endings.js'
import type { ComposedMessage } from './types.js'
import { isValidAddress } from './validate-mail.js'

/** A message that is already composed: the envelope and the RFC 5322 bytes. */
export interface RawMessageInput {
  /** Envelope sender (MAIL FROM). */
  from: string
  /** Envelope recipients (RCPT TO), Bcc included. */
  to: string[]
  /** The message bytes, stored and sent unchanged. */
  raw: Buffer | string
}

/** Returns the unfolded value of the first header `name` in a header block, or null. */
export function readHeader(headerBlock: string, name: string): string | null {
  const pattern = new RegExp(`^${name}:[ \\t]*((?:.*)(?:\\r?\\n[ \\t].*)*)`, 'im')
  const match = pattern.exec(headerBlock)
  return match ? match[1]!.replace(/\r?\n[ \t]+/g, ' ').trim() : null
}

/**
 * Checks an already composed message and reads what listings need from its headers. The bytes
 * are kept as they are; only a missing Message-ID is added, so that retries and receivers can
 * recognise the message.
 */
export function composeRaw(input: RawMessageInput, limits: ComposeLimits): ComposedMessage {
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
  // Only the header block is read; 64 KB is far more than any sane header section.
  const head = raw.subarray(0, 65536).toString('latin1')
  const end = head.search(/\r?\n\r?\n/)
  const headerBlock = end === -1 ? head : head.slice(0, end)
  let messageId = readHeader(headerBlock, 'message-id')
  if (!messageId) {
    const domain =
      (input.from && input.from.slice(input.from.lastIndexOf('@') + 1)) || 'outbox.local'
    messageId = `<${randomUUID()}@${domain}>`
    raw = Buffer.concat([Buffer.from(`Message-ID: ${messageId}\r\n`), raw])
  }
  if (raw.length > limits.maxMessageSize) {
    throw new InvalidMessageError(
      'raw',
      `The message is ${formatBytes(raw.length)}, over the ${formatBytes(limits.maxMessageSize)} limit.`,
      { code: ErrorCodes.MESSAGE_TOO_LARGE },
    )
  }
  return {
    messageId,
    envelope: { from: input.from, to: [...new Set(input.to)] },
    raw,
    subject: readHeader(headerBlock, 'subject'),
  }
}
