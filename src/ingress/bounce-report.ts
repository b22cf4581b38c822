import type { Attachment, Email } from 'postal-mime'
import {
  fieldValue,
  fieldValues,
  parseFieldBlocks,
  parseHeaderSection,
  typedValue,
  type FieldBlock,
} from './report-fields.js'

/** What a delivery status notification (RFC 3464) says about one recipient. */
export interface DsnRecipient {
  /** From `Final-Recipient`, without its type and angle brackets, as written. */
  address: string
  /** From `Original-Recipient` (the RCPT TO as we sent it), or null. */
  originalAddress: string | null
  action: DsnAction
  /** The enhanced status code of the `Status` field, e.g. `5.1.1`, or null. */
  status: string | null
  /** The basic code of the remote reply, e.g. 550, or null when there is none. */
  code: number | null
  /** The remote reply (`Diagnostic-Code` without its type), else the `Status` field's text. */
  reply: string
  /** From `Remote-MTA`, without its type: the host that refused, or null. */
  remoteMta: string | null
}

export type DsnAction = 'failed' | 'delayed' | 'delivered' | 'relayed' | 'expanded'

/** A bounce (`dsn`) or a complaint (`arf`, RFC 5965) that came back for mail we sent. */
export type BounceReport =
  | {
      kind: 'dsn'
      recipients: DsnRecipient[]
      /** The original's Message-ID header, angle brackets included, or null. */
      originalMessageId: string | null
      /** The original's envelope sender (its Return-Path), or null. */
      originalMailFrom: string | null
    }
  | {
      kind: 'arf'
      /** `abuse`, `fraud`, `virus`, `other`, …, in lower case. */
      feedbackType: string
      originalMailFrom: string | null
      originalRcptTo: string[]
      originalMessageId: string | null
      /** One line for people: the feedback type, who reported it and with what. */
      reply: string
    }

const DELIVERY_STATUS = new Set(['message/delivery-status', 'message/global-delivery-status'])
const FEEDBACK_REPORT = 'message/feedback-report'
const ORIGINAL = new Set([
  'message/rfc822',
  'message/global',
  'text/rfc822-headers',
  'message/global-headers',
])
const ACTIONS = new Set<string>(['failed', 'delayed', 'delivered', 'relayed', 'expanded'])
const decoder = new TextDecoder('utf-8')

/**
 * Reads a bounce or complaint report, or returns null for mail that is neither (a reply, an
 * auto-reply, a read receipt) and for anything that cannot be parsed: the bounce domain takes
 * mail from anyone, so garbage must not throw.
 */
export async function parseBounceReport(raw: Buffer): Promise<BounceReport | null> {
  try {
    // Returned messages stay attachments: their headers name the original, and their own
    // parts must not be mistaken for the report's.
    // Loaded at the first report: importing Outbox must not load the MIME parser.
    const { default: PostalMime } = await import('postal-mime')
    const email = await PostalMime.parse(raw, { forceRfc822Attachments: true })
    return readReport(email)
  } catch {
    return null
  }
}

function readReport(email: Email): BounceReport | null {
  const feedback = email.attachments.find((part) => part.mimeType === FEEDBACK_REPORT)
  if (feedback) return readArf(email, feedback)
  const status = email.attachments.find((part) => DELIVERY_STATUS.has(part.mimeType))
  if (status) return readDsn(email, parseFieldBlocks(text(status)))
  if (reportType(email) === 'delivery-status') return readDsn(email, sloppyStatusBlocks(email))
  return null
}

function readDsn(email: Email, blocks: FieldBlock[]): BounceReport | null {
  const perMessage = blocks.find((block) => !fieldValue(block, 'final-recipient')) ?? []
  const recipients = blocks.flatMap((block) => {
    const recipient = readRecipient(block)
    return recipient ? [recipient] : []
  })
  if (recipients.length === 0) return null
  const original = originalHeaders(email)
  return {
    kind: 'dsn',
    recipients,
    originalMessageId:
      fieldValue(original, 'message-id') ?? fieldValue(perMessage, 'x-original-message-id'),
    // Postfix names the sender in its own per-message field too, for DSNs returning no headers.
    originalMailFrom:
      returnPath(original) ?? typedValue(fieldValue(perMessage, 'x-postfix-sender')),
  }
}

function readRecipient(block: FieldBlock): DsnRecipient | null {
  const address = typedValue(fieldValue(block, 'final-recipient'))
  // The action's comment ("delivered (to mailbox)", Sendmail) is not part of it.
  const action = fieldValue(block, 'action')?.split(/[\s(]/)[0]?.toLowerCase()
  if (!address || !action || !ACTIONS.has(action)) return null
  const statusText = fieldValue(block, 'status')
  const status = /^\d\.\d{1,3}\.\d{1,3}\b/.exec(statusText ?? '')?.[0] ?? null
  const diagnostic = fieldValue(block, 'diagnostic-code')
  // `smtp; 550 5.1.1 …`: the type is up to the first `;`, the rest is the reply as sent.
  const reply = diagnostic !== null ? diagnostic.replace(/^[\w-]+\s*;\s*/, '') : (statusText ?? '')
  const code = /^([2-5]\d\d)(?:[ -]|$)/.exec(reply)
  return {
    address,
    originalAddress: typedValue(fieldValue(block, 'original-recipient')),
    action: action as DsnAction,
    status,
    code: code ? Number(code[1]) : null,
    reply,
    remoteMta: typedValue(fieldValue(block, 'remote-mta'))?.replace(/\.$/, '') ?? null,
  }
}

function readArf(email: Email, feedback: Attachment): BounceReport {
  const fields = parseFieldBlocks(text(feedback)).flat()
  const original = originalHeaders(email)
  const feedbackType = (fieldValue(fields, 'feedback-type') ?? 'other').toLowerCase()
  const reporter = typedValue(fieldValue(fields, 'reporting-mta')) ?? fromAddress(email)
  const agent = fieldValue(fields, 'user-agent')
  const reply = [
    `${feedbackType} report`,
    reporter ? `from ${reporter}` : null,
    agent ? `(${agent})` : null,
  ]
    .filter((part) => part !== null)
    .join(' ')
  return {
    kind: 'arf',
    feedbackType,
    originalMailFrom: typedValue(fieldValue(fields, 'original-mail-from')) ?? returnPath(original),
    originalRcptTo: fieldValues(fields, 'original-rcpt-to').flatMap((value) => {
      const address = typedValue(value)
      return address ? [address] : []
    }),
    originalMessageId: fieldValue(original, 'message-id'),
    reply,
  }
}

/**
 * Some MTAs send the delivery-status fields as text/plain inside a multipart/report: take
 * the blocks of the text parts that read like per-recipient fields. Only for a report that
 * says it is a delivery-status report, so an ordinary reply quoting a bounce is not one.
 */
function sloppyStatusBlocks(email: Email): FieldBlock[] {
  const texts = email.attachments.filter((part) => part.mimeType === 'text/plain').map(text)
  if (email.text) texts.push(email.text)
  return texts.flatMap(parseFieldBlocks)
}

/** The header section of the returned message or headers, or none. */
function originalHeaders(email: Email): FieldBlock {
  const part = email.attachments.find((attachment) => ORIGINAL.has(attachment.mimeType))
  return part ? parseHeaderSection(text(part)) : []
}

function returnPath(headers: FieldBlock): string | null {
  return typedValue(fieldValue(headers, 'return-path'))
}

function reportType(email: Email): string | null {
  const contentType = email.headers.find((header) => header.key === 'content-type')?.value ?? ''
  if (!/^\s*multipart\/report\s*(;|$)/i.test(contentType)) return null
  const match = /;\s*report-type\s*=\s*"?([\w-]+)"?/i.exec(contentType)
  return match ? match[1]!.toLowerCase() : null
}

function fromAddress(email: Email): string | null {
  const from = email.from
  return from && 'address' in from && from.address ? from.address : null
}

function text(part: Attachment): string {
  const { content } = part
  if (typeof content === 'string') return content
  // Report parts are ASCII or, in 8-bit and RFC 6533 reports, UTF-8.
  return decoder.decode(content)
}
