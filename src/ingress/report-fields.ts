/**
 * The header-like field blocks of a `message/delivery-status` (RFC 3464) or
 * `message/feedback-report` (RFC 5965) part, and the header section of a returned message.
 */

/** One field: the name in lower case, the value unfolded and trimmed. */
export interface ReportField {
  name: string
  value: string
}

/** Fields of one block, in order; a name may repeat (`Original-Rcpt-To`). */
export type FieldBlock = ReportField[]

const FIELD = /^([!-9;-~]+)[ \t]*:(.*)$/

/**
 * Splits `text` into blocks at blank lines and each block into fields. A line starting with
 * white space continues the field before it; its folding is collapsed to one space, so a
 * Diagnostic-Code folded by the reporting MTA reads as the reply was sent. Lines that are
 * not fields are skipped rather than failing the whole report: sloppy MTAs write them.
 */
export function parseFieldBlocks(text: string): FieldBlock[] {
  const blocks: FieldBlock[] = []
  let block: FieldBlock = []
  let last: ReportField | null = null
  for (const line of text.split(/\r?\n|\r/)) {
    if (line.trim() === '') {
      if (block.length > 0) blocks.push(block)
      block = []
      last = null
    } else if (/^[ \t]/.test(line)) {
      if (last) last.value = `${last.value} ${line.trim()}`.trim()
    } else {
      const match = FIELD.exec(line)
      last = match ? { name: match[1]!.toLowerCase(), value: match[2]!.trim() } : null
      if (last) block.push(last)
    }
  }
  if (block.length > 0) blocks.push(block)
  return blocks
}

/** The fields of a message's header section: everything before its first blank line. */
export function parseHeaderSection(text: string): FieldBlock {
  text = text.replace(/^(?:[ \t]*\r?\n)+/, '')
  const end = /\r?\n\r?\n/.exec(text)
  return parseFieldBlocks(end ? text.slice(0, end.index) : text)[0] ?? []
}

/** The first value of a field, or null. */
export function fieldValue(block: FieldBlock, name: string): string | null {
  return block.find((field) => field.name === name)?.value ?? null
}

/** Every value of a field, in order. */
export function fieldValues(block: FieldBlock, name: string): string[] {
  return block.filter((field) => field.name === name).map((field) => field.value)
}

/**
 * An address-type field (`rfc822; <x@y>`, `dns; mx.example.com (comment)`) without its type,
 * angle brackets and trailing comment, or null when nothing is left.
 */
export function typedValue(value: string | null): string | null {
  if (value === null) return null
  const semicolon = value.indexOf(';')
  const bare = (semicolon >= 0 ? value.slice(semicolon + 1) : value)
    .replace(/\s*\([^)]*\)\s*$/, '')
    .trim()
    .replace(/^<(.*)>$/, '$1')
    .trim()
  return bare === '' ? null : bare
}
