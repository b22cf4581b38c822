import { printable } from './terminal.js'
import { formatDuration } from '../config/duration.js'

/** `5m ago`, `in 2h`, `now`: a time relative to `now`, for people. */
export function relativeTime(date: Date | null, now: number = Date.now()): string {
  if (!date) return '-'
  const delta = date.getTime() - now
  if (Math.abs(delta) < 1000) return 'now'
  return delta > 0 ? `in ${formatDuration(delta)}` : `${formatDuration(-delta)} ago`
}

/** Age of something created at `date`: `5m`, `2h30m`. */
export function age(date: Date, now: number = Date.now()): string {
  return formatDuration(Math.max(0, now - date.getTime()))
}

/** Shortens text to `width` characters with an ellipsis. */
export function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`
}

/**
 * Aligned columns with a header row; the last column is not padded. Cells are single lines:
 * control characters in them (a newline or an escape sequence in a subject) are shown escaped.
 */
export function table(headers: string[], cellRows: string[][]): string {
  const rows = cellRows.map((r) => r.map((cell) => printable(cell)))
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  return [line(headers), ...rows.map(line)].join('\n')
}

/** `key   value` lines, keys aligned; values shown as single lines (see {@link table}). */
export function fields(pairs: [string, string][]): string {
  const width = Math.max(...pairs.map(([k]) => k.length))
  return pairs.map(([k, v]) => `  ${k.padEnd(width)}  ${printable(v)}`).join('\n')
}
