import { describeValue, InvalidMessageError } from '../errors.js'

/**
 * Checks of the body parts of a message (`text`, `html`, …, `attachments`, `alternatives`)
 * before Nodemailer composes them: a wrong type there makes Nodemailer throw a bare
 * TypeError from deep inside (`Cannot use 'in' operator…`), or silently produce an empty
 * `attachment-1.*`. Each problem is an {@link InvalidMessageError} naming the field.
 */

/** The attachment fields Nodemailer's composer reads; anything else is a typo (`fileName`). */
const ATTACHMENT_FIELDS = new Set([
  'filename',
  'content',
  'path',
  'href',
  'httpHeaders',
  'raw',
  'contentType',
  'contentDisposition',
  'contentTransferEncoding',
  'cid',
  'encoding',
  'headers',
  'tls',
])

/** Where a part's bytes come from: one of these must be set. */
const SOURCE_FIELDS = ['content', 'path', 'href', 'raw'] as const

/** Attachment fields that end up in a MIME header: a line break would corrupt it. */
const HEADER_TEXT_FIELDS = ['contentType', 'cid', 'encoding', 'contentTransferEncoding'] as const

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

const isBytes = (value: unknown): boolean =>
  typeof value === 'string' || value instanceof Uint8Array

/** A readable stream, as Nodemailer accepts for content (it only needs `pipe`). */
const isStream = (value: unknown): boolean =>
  isObject(value) && typeof (value as { pipe?: unknown }).pipe === 'function'

function refuse(field: string, expected: string, value: unknown): never {
  throw new InvalidMessageError(
    field,
    `\`${field}\` must be ${expected}, got ${describeValue(value)}.`,
  )
}

function checkText(field: string, value: unknown): void {
  if (value === undefined) return
  if (typeof value !== 'string') refuse(field, 'a string', value)
}

function checkSingleLine(field: string, value: unknown): void {
  checkText(field, value)
  if (typeof value === 'string' && /[\r\n]/.test(value)) {
    throw new InvalidMessageError(
      field,
      `\`${field}\` must be a single line; it contains a CR or LF, which would corrupt its header.`,
    )
  }
}

/** `content` of a part: text, bytes or a stream. */
function checkContent(field: string, value: unknown): void {
  if (value === undefined) return
  if (!isBytes(value) && !isStream(value)) refuse(field, 'a string, a Buffer or a stream', value)
}

/** A body field (`text`, `html`, …): text, bytes, a stream, or a part object with a source. */
export function checkBodyField(field: string, value: unknown): void {
  if (value === undefined || value === null || value === false || value === '') return
  if (isBytes(value) || isStream(value)) return
  if (!isObject(value)) {
    refuse(field, 'a string, a Buffer, a stream or { content | path | href }', value)
  }
  checkPartObject(field, value, false)
}

function checkPartObject(field: string, part: Record<string, unknown>, attachment: boolean): void {
  if (attachment) {
    for (const key of Object.keys(part)) {
      if (!ATTACHMENT_FIELDS.has(key)) {
        throw new InvalidMessageError(
          `${field}.${key}`,
          `Unknown attachment field \`${key}\` in \`${field}\`. Known fields: ${[...ATTACHMENT_FIELDS].join(', ')}.`,
        )
      }
    }
  }
  if (!SOURCE_FIELDS.some((key) => part[key] !== undefined && part[key] !== null)) {
    throw new InvalidMessageError(
      field,
      `\`${field}\` has nothing to send: set one of ${SOURCE_FIELDS.join(', ')}.`,
    )
  }
  checkContent(`${field}.content`, part.content)
  checkText(`${field}.path`, part.path)
  checkText(`${field}.href`, part.href)
  if (part.raw !== undefined && !isBytes(part.raw) && !isStream(part.raw) && !isObject(part.raw)) {
    refuse(`${field}.raw`, 'a string, a Buffer, a stream or { path | href }', part.raw)
  }
  if (part.filename !== undefined && part.filename !== false) {
    checkText(`${field}.filename`, part.filename)
  }
  for (const key of HEADER_TEXT_FIELDS) checkSingleLine(`${field}.${key}`, part[key])
  if (
    part.contentDisposition !== undefined &&
    part.contentDisposition !== 'attachment' &&
    part.contentDisposition !== 'inline'
  ) {
    refuse(`${field}.contentDisposition`, '"attachment" or "inline"', part.contentDisposition)
  }
  if (part.headers !== undefined && !isObject(part.headers) && !Array.isArray(part.headers)) {
    refuse(`${field}.headers`, 'an object of header names and values', part.headers)
  }
}

/** `attachments` or `alternatives`: an array of part objects. */
export function checkPartList(field: string, value: unknown): void {
  if (value === undefined || value === null) return
  if (!Array.isArray(value)) refuse(field, 'an array of attachments', value)
  ;(value as unknown[]).forEach((part, i) => {
    const path = `${field}[${i}]`
    if (!isObject(part)) refuse(path, 'an object such as { filename, content }', part)
    checkPartObject(path, part, true)
  })
}
