import { InvalidMessageError } from '../errors.js'

/** One record of a CSV file and the line it starts on. */
export interface CsvRecord {
  /** 1-based line of the file where the record starts. */
  line: number
  fields: string[]
}

/** A record longer than this is refused: an unclosed quote would otherwise swallow the file. */
const MAX_RECORD = 10_000

/**
 * Splits CSV text (RFC 4180: fields in double quotes may hold commas, quotes doubled, and line
 * breaks) into records, read chunk by chunk so that a large file is never held as one string.
 * Blank lines and lines starting with `#` are skipped; CRLF and LF both end a line.
 */
export async function* csvRecords(chunks: AsyncIterable<string>): AsyncGenerator<CsvRecord> {
  let fields: string[] = []
  let field = ''
  let quoted = false // inside a quoted field
  let quoteSeen = false // a `"` inside a quoted field: closes it, unless the next is `"` too
  let closed = false // the current field's closing quote was read
  let wasQuoted = false // the record has a quoted field (so `""` is a record, not a blank line)
  let comment = false // skipping a `#` line
  let pendingCR = false
  let line = 1
  let start = 1
  let size = 0
  const ready: CsvRecord[] = []

  const bad = (message: string) =>
    new InvalidMessageError(`line ${start}`, `line ${start}: ${message}; nothing was stored.`)

  const endRecord = () => {
    fields.push(field)
    const blank = fields.length === 1 && !wasQuoted && field.trim() === ''
    if (!blank) ready.push({ line: start, fields })
    fields = []
    field = ''
    closed = false
    wasQuoted = false
    size = 0
  }

  const feed = (c: string): void => {
    if (comment) {
      if (c === '\n') {
        comment = false
        line++
        start = line
      }
      return
    }
    if (quoteSeen) {
      quoteSeen = false
      if (c === '"') {
        field += '"'
        return
      }
      quoted = false
      closed = true
    }
    if (quoted) {
      if (c === '"') quoteSeen = true
      else {
        if (c === '\n') line++
        field += c
      }
    } else if (c === ',') {
      fields.push(field)
      field = ''
      closed = false
    } else if (c === '\n') {
      endRecord()
      line++
      start = line
    } else if (closed) {
      if (c.trim() !== '')
        throw bad(
          'text after the closing quote of a field (write a quote inside a quoted field as "")',
        )
    } else if (c === '"' && field.trim() === '') {
      quoted = true
      wasQuoted = true
      field = ''
    } else if (c === '#' && fields.length === 0 && field === '' && !wasQuoted) {
      comment = true
    } else {
      field += c
    }
    if (++size > MAX_RECORD) {
      throw bad(`a record longer than ${MAX_RECORD} characters (a quote that is never closed?)`)
    }
  }

  for await (const chunk of chunks) {
    for (const char of chunk) {
      // CR LF, a lone CR and a lone LF each end a line.
      if (pendingCR) {
        pendingCR = false
        if (char === '\n') continue
      }
      if (char === '\r') pendingCR = true
      feed(char === '\r' ? '\n' : char)
    }
    yield* ready.splice(0)
  }
  if (quoteSeen) {
    quoteSeen = false
    quoted = false
  }
  if (quoted) throw bad('a quoted field is never closed')
  if (!comment) endRecord()
  yield* ready.splice(0)
}

/** Characters that make a spreadsheet read a cell as a formula (CSV injection). */
const FORMULA_START = /^[=+\-@\t\r]/

/**
 * One CSV line. Fields are quoted when they hold a comma, quote or line break; a field that a
 * spreadsheet would run as a formula (`=HYPERLINK(…)` in a remote server's reply) is prefixed
 * with `'`, which {@link unguardField} takes off again on import.
 */
export function csvLine(values: readonly (string | null)[]): string {
  return `${values
    .map((value) => {
      let text = value ?? ''
      if (FORMULA_START.test(text)) text = `'${text}`
      return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
    })
    .join(',')}\n`
}

/** A field as exported, without the `'` that guarded it against spreadsheets. */
export function unguardField(text: string): string {
  return text.startsWith("'") && FORMULA_START.test(text.slice(1)) ? text.slice(1) : text
}
