import MailComposer from 'nodemailer/lib/mail-composer'
import type MimeNode from 'nodemailer/lib/mime-node'
import { ErrorCodes, InvalidMessageError } from '../errors.js'
import { formatBytes } from './format-bytes.js'
import { toCrlf } from './line-endings.js'
import { transportNeeds } from './transport-needs.js'
import type { ComposedMessage, MailInput } from './types.js'
import { isValidAddress, validateMailInput } from './validate-mail.js'

/** Limits applied while composing. */
export interface ComposeLimits {
  /** Largest accepted message in bytes, attachments included (after MIME encoding). */
  maxMessageSize: number
}

/**
 * Composes a message once, with Nodemailer's MailComposer, into the envelope and the exact
 * bytes that will be stored and sent. Throws {@link InvalidMessageError} on bad input.
 */
export async function composeMessage(
  mail: MailInput,
  limits: ComposeLimits,
): Promise<ComposedMessage> {
  validateMailInput(mail)
  // Nodemailer's Mail adds no X-Mailer unless asked; the composer alone doesn't either.
  const node = new MailComposer(mail).compile()
  return composeFromMimeNode(node, limits, {
    hasAttachments: Array.isArray(mail.attachments) && mail.attachments.length > 0,
  })
}

/**
 * Builds the bytes of an already compiled MIME tree (the Nodemailer transport receives one)
 * and checks the envelope and size.
 */
export async function composeFromMimeNode(
  node: MimeNode,
  limits: ComposeLimits,
  hints: { hasAttachments?: boolean } = {},
): Promise<ComposedMessage> {
  const envelope = node.getEnvelope()
  const from = typeof envelope.from === 'string' ? envelope.from : ''
  if (!from) {
    throw new InvalidMessageError(
      'from',
      'The message has no sender: set `from` (or `envelope.from`).',
    )
  }
  if (!isValidAddress(from)) {
    throw new InvalidMessageError(
      'from',
      `The sender ${JSON.stringify(from)} is not a valid address.`,
    )
  }
  const to = [...new Set(envelope.to)]
  if (to.length === 0) {
    throw new InvalidMessageError(
      'to',
      'The message has no recipients: set at least one of `to`, `cc`, `bcc`.',
    )
  }
  for (const rcpt of to) {
    if (!isValidAddress(rcpt)) {
      throw new InvalidMessageError(
        'to',
        `The recipient ${JSON.stringify(rcpt)} is not a valid address.`,
      )
    }
  }

  let raw: Buffer
  try {
    raw = toCrlf(await node.build())
  } catch (cause) {
    const field = hints.hasAttachments ? 'attachments' : 'message'
    const reason = cause instanceof Error ? cause.message : String(cause)
    throw new InvalidMessageError(
      field,
      `The message could not be composed (check \`${field}\`): ${reason}`,
      { cause },
    )
  }
  if (raw.length > limits.maxMessageSize) {
    throw new InvalidMessageError(
      hints.hasAttachments ? 'attachments' : 'message',
      `The message is ${formatBytes(raw.length)}, over the ${formatBytes(limits.maxMessageSize)} limit; ` +
        'send smaller attachments or raise `maxMessageSize`.',
      { code: ErrorCodes.MESSAGE_TOO_LARGE },
    )
  }
  const subjectHeader = node.getHeader('subject')
  return {
    messageId: node.messageId(),
    envelope: { from, to },
    raw,
    subject: typeof subjectHeader === 'string' ? subjectHeader : null,
    ...transportNeeds(raw, { from, to }),
  }
}
