import addressparser from 'nodemailer/lib/addressparser'
import { describeValue, InvalidMessageError } from '../errors.js'
import { checkBodyField, checkPartList } from './validate-parts.js'

/** The message fields Nodemailer's composer understands; anything else is refused as a typo. */
const KNOWN_FIELDS = new Set([
  'from',
  'sender',
  'to',
  'cc',
  'bcc',
  'replyTo',
  'inReplyTo',
  'references',
  'subject',
  'messageId',
  'date',
  'text',
  'html',
  'watchHtml',
  'amp',
  'icalEvent',
  'attachments',
  'alternatives',
  'headers',
  'list',
  'envelope',
  'encoding',
  'textEncoding',
  'raw',
  'disableUrlAccess',
  'disableFileAccess',
  'attachDataUrls',
  'boundaryPrefix',
  'baseBoundary',
  'normalizeHeaderKey',
  'priority',
  'xMailer',
])

/** The body's own parts, each text, bytes, a stream or a part object. */
const BODY_FIELDS = ['text', 'html', 'watchHtml', 'amp', 'icalEvent'] as const

const ADDRESS_FIELDS = ['from', 'sender', 'to', 'cc', 'bcc', 'replyTo'] as const

/** Header-bound text fields: a CR or LF in them would let the caller forge extra headers. */
const SINGLE_LINE_FIELDS = ['subject', 'inReplyTo', 'messageId'] as const

// A conservative check, stricter than RFC 5321 where it matters for safety: no spaces, no
// control characters, no angle brackets, exactly one @ with something on both sides.
const MAILBOX = /^[^\s@<>()[\]\\,;:"\x00-\x1f\x7f]+@[^\s@<>()[\]\\,;:"\x00-\x1f\x7f]+$/
const QUOTED_LOCAL_MAILBOX = /^"[^"\r\n\\]*"@[^\s@<>()[\]\\,;:"\x00-\x1f\x7f]+$/

/** Is this a usable mailbox address (`local@domain`)? */
export function isValidAddress(address: string): boolean {
  if (address.length > 320) return false
  if (!(MAILBOX.test(address) || QUOTED_LOCAL_MAILBOX.test(address))) return false
  const domain = address.slice(address.lastIndexOf('@') + 1)
  return !domain.startsWith('.') && !domain.endsWith('.') && !domain.includes('..')
}

function hasLineBreak(text: string): boolean {
  return /[\r\n]/.test(text)
}

function assertSingleLine(field: string, value: unknown): void {
  if (typeof value === 'string' && hasLineBreak(value)) {
    throw new InvalidMessageError(
      field,
      `\`${field}\` must be a single line; it contains a CR or LF, which could inject headers.`,
    )
  }
}

/** Returns the mailbox addresses in an address field, refusing anything malformed. */
export function parseAddressField(field: string, value: unknown): string[] {
  if (value === undefined || value === null || value === '') return []
  const entries = Array.isArray(value) ? (value as unknown[]) : [value]
  const found: string[] = []
  entries.forEach((entry, index) => {
    const path = Array.isArray(value) ? `${field}[${index}]` : field
    let parsed: { name: string; address: string }[]
    if (typeof entry === 'string') {
      assertSingleLine(path, entry)
      parsed = addressparser(entry, { flatten: true })
    } else if (entry && typeof entry === 'object' && 'address' in entry) {
      const { address, name } = entry as { address: unknown; name?: unknown }
      if (typeof address !== 'string') {
        throw new InvalidMessageError(
          `${path}.address`,
          `\`${path}.address\` must be a string, got ${describeValue(address)}.`,
        )
      }
      assertSingleLine(`${path}.address`, address)
      if (name !== undefined) assertSingleLine(`${path}.name`, name)
      parsed = [{ name: typeof name === 'string' ? name : '', address }]
    } else {
      throw new InvalidMessageError(
        path,
        `\`${path}\` must be an address string or { name, address }, got ${describeValue(entry)}.`,
      )
    }
    if (parsed.length === 0) {
      throw new InvalidMessageError(path, `\`${path}\` holds no address: ${describeValue(entry)}.`)
    }
    for (const { address } of parsed) {
      if (!isValidAddress(address)) {
        throw new InvalidMessageError(
          path,
          `\`${path}\` has an invalid address ${describeValue(address || entry)}; expected local@domain.`,
        )
      }
      found.push(address)
    }
  })
  return found
}

function validateHeaders(headers: unknown): void {
  if (headers === undefined) return
  const entries: [string, unknown][] = Array.isArray(headers)
    ? (headers as unknown[]).map((h, i) => {
        const { key, value } = (h ?? {}) as { key?: unknown; value?: unknown }
        if (typeof key !== 'string') {
          throw new InvalidMessageError(
            `headers[${i}]`,
            `\`headers[${i}]\` must be { key, value } with a string key, got ${describeValue(h)}.`,
          )
        }
        return [key, value]
      })
    : typeof headers === 'object' && headers !== null
      ? Object.entries(headers)
      : [['', headers]]
  if (!Array.isArray(headers) && (typeof headers !== 'object' || headers === null)) {
    throw new InvalidMessageError(
      'headers',
      `\`headers\` must be an object, got ${describeValue(headers)}.`,
    )
  }
  for (const [key, value] of entries) {
    const path = `headers.${key}`
    if (!/^[\x21-\x39\x3b-\x7e]+$/.test(key)) {
      throw new InvalidMessageError(
        path,
        `\`headers\` has an invalid header name ${describeValue(key)}.`,
      )
    }
    const values = Array.isArray(value) ? (value as unknown[]) : [value]
    for (const v of values) {
      const text = v && typeof v === 'object' && 'value' in v ? v.value : v
      // A folded header (CRLF followed by white space) is legal; any other line break injects.
      if (typeof text === 'string' && /\r(?!\n[ \t])|(?<!\r)\n|\r\n(?![ \t])/.test(text)) {
        throw new InvalidMessageError(
          path,
          `Header \`${key}\` contains a line break, which could inject headers; remove CR/LF from its value.`,
        )
      }
    }
  }
}

/**
 * Checks the fields of a message before anything is composed or stored: unknown fields,
 * line breaks in header-bound text, and every address. Throws {@link InvalidMessageError}.
 */
export function validateMailInput(mail: unknown): void {
  if (!mail || typeof mail !== 'object' || Array.isArray(mail)) {
    throw new InvalidMessageError(
      'message',
      `A message must be an object, got ${describeValue(mail)}.`,
    )
  }
  for (const key of Object.keys(mail)) {
    if (!KNOWN_FIELDS.has(key)) {
      throw new InvalidMessageError(
        key,
        `Unknown message field \`${key}\`. Known fields: ${[...KNOWN_FIELDS].join(', ')}.`,
      )
    }
  }
  const record = mail as Record<string, unknown>
  for (const field of SINGLE_LINE_FIELDS) assertSingleLine(field, record[field])
  if (record.subject !== undefined && typeof record.subject !== 'string') {
    throw new InvalidMessageError(
      'subject',
      `\`subject\` must be a string, got ${describeValue(record.subject)}.`,
    )
  }
  if (Array.isArray(record.references)) {
    record.references.forEach((ref, i) => assertSingleLine(`references[${i}]`, ref))
  } else {
    assertSingleLine('references', record.references)
  }
  for (const field of ADDRESS_FIELDS) parseAddressField(field, record[field])
  const from = parseAddressField('from', record.from)
  if (from.length > 1 && !record.sender) {
    throw new InvalidMessageError(
      'sender',
      'A message with several `from` addresses needs a `sender`.',
    )
  }
  validateHeaders(record.headers)
  for (const field of BODY_FIELDS) checkBodyField(field, record[field])
  checkPartList('attachments', record.attachments)
  checkPartList('alternatives', record.alternatives)
  if (record.envelope !== undefined) {
    const envelope = record.envelope as Record<string, unknown>
    if (!envelope || typeof envelope !== 'object') {
      throw new InvalidMessageError(
        'envelope',
        `\`envelope\` must be { from, to }, got ${describeValue(envelope)}.`,
      )
    }
    for (const key of ['from', 'to', 'cc', 'bcc'])
      parseAddressField(`envelope.${key}`, envelope[key])
  }
}
