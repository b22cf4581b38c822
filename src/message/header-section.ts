const LF = 0x0a
const CR = 0x0d

/** Where the header section of a message ends, as an MTA reads it. */
export interface HeaderSection {
  /** Header fields found (a folded field counts once). */
  fields: number
  /** Byte offset just after the last header line: where the blank line, or the body, starts. */
  end: number
  /**
   * How the section ended: `blank-line` (the RFC 5322 separator), `body` (a line that is not a
   * header field, so the body starts there without a separator), `end` (the message is all
   * headers) or `limit` (still in headers at the scan limit; nothing is known beyond it).
   */
  endedBy: 'blank-line' | 'body' | 'end' | 'limit'
}

/** A field name (printable ASCII but the colon), then a colon; obsolete syntax allows blanks before it. */
const FIELD = /^[\x21-\x39\x3b-\x7e]+[ \t]*:/

/**
 * Finds the header section the way Postfix's cleanup does: header fields and their
 * continuation lines from the first line on, up to an empty line or the first line that is
 * not a header field. Input that does not start with a header field has no header section
 * (`fields` 0, `end` 0): all of it is body. LF and CRLF line endings alike.
 */
export function findHeaderSection(raw: Buffer, limit = 65_536): HeaderSection {
  let fields = 0
  let start = 0
  const scanEnd = Math.min(raw.length, limit)
  while (start < raw.length) {
    if (start >= scanEnd) return { fields, end: start, endedBy: 'limit' }
    const lf = raw.indexOf(LF, start)
    const lineEnd = lf === -1 ? raw.length : lf + 1
    const contentEnd = lf === -1 ? raw.length : lf > start && raw[lf - 1] === CR ? lf - 1 : lf
    if (contentEnd === start) return { fields, end: start, endedBy: 'blank-line' }
    const first = raw[start]
    const isContinuation = fields > 0 && (first === 0x20 || first === 0x09)
    if (!isContinuation) {
      const line = raw.toString('latin1', start, Math.min(contentEnd, start + 1000))
      if (!FIELD.test(line)) return { fields, end: start, endedBy: 'body' }
      fields++
    }
    start = lineEnd
  }
  return { fields, end: raw.length, endedBy: 'end' }
}

/** Trace fields (RFC 5322 3.6.7): each hop prepends them, so they stay above every other field. */
const TRACE_FIELD = /^(received|return-path)[ \t]*:/i

/**
 * Byte offset just after the trace fields (`Received:`, `Return-Path:`) at the top of the header
 * section, continuation lines included: where a field added by Outbox goes, so that the trace
 * a hop prepended stays first (RFC 5321 4.4). 0 when the section does not start with one.
 */
export function traceFieldsEnd(raw: Buffer, section: HeaderSection): number {
  let start = 0
  while (start < section.end) {
    const lf = raw.indexOf(LF, start)
    const lineEnd = lf === -1 ? section.end : Math.min(lf + 1, section.end)
    // A continuation line belongs to the trace field above it (the loop stops at any other).
    const continuation = raw[start] === 0x20 || raw[start] === 0x09
    const line = raw.toString('latin1', start, Math.min(lineEnd, start + 64))
    if (!continuation && !TRACE_FIELD.test(line)) return start
    start = lineEnd
  }
  return start
}

/** The header section's text, one character per byte (latin1), for {@link readHeaders}. */
export function headerText(raw: Buffer, section: HeaderSection): string {
  return raw.toString('latin1', 0, section.end)
}

/** Returns the unfolded value of every header `name` in a header block, in order. */
export function readHeaders(headerBlock: string, name: string): string[] {
  const pattern = new RegExp(`^${name}[ \\t]*:[ \\t]*((?:.*)(?:\\r?\\n[ \\t].*)*)`, 'gim')
  return [...headerBlock.matchAll(pattern)].map((m) => m[1]!.replace(/\r?\n[ \t]+/g, ' ').trim())
}

/** Returns the unfolded value of the first header `name` in a header block, or null. */
export function readHeader(headerBlock: string, name: string): string | null {
  return readHeaders(headerBlock, name)[0] ?? null
}
