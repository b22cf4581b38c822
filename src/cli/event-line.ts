import { EVENT_TYPES, type StoredEvent } from '../store/store.js'
import { printable } from './terminal.js'
import { truncate } from './format.js'

/**
 * How `outbox events` shows one event of the log to people: one line, like a log file, so
 * `grep` and `tail -f` habits work. `--json` prints the event itself instead.
 */

const TYPE_WIDTH = Math.max(...EVENT_TYPES.map((t) => t.length))
/** Replies can be long (a multi-line 550 with a help URL); the line stays readable. */
const SUMMARY_WIDTH = 160

/** A data field as text: stored data is JSON, so anything not a string or number is shown as JSON. */
const text = (v: unknown): string =>
  typeof v === 'string'
    ? v
    : typeof v === 'number' || typeof v === 'boolean'
      ? String(v)
      : v === null || v === undefined
        ? ''
        : JSON.stringify(v)
const joined = (...parts: string[]): string => parts.filter(Boolean).join('; ')

/** What an event's data says, in a few words: the reply, the reason, the upstream. */
export function eventSummary(event: StoredEvent): string {
  const d = event.data
  switch (event.type) {
    case 'sent':
      return joined(text(d.reply) || text(d.code), d.upstream ? `via ${text(d.upstream)}` : '')
    case 'failed':
    case 'suppressed':
    case 'bounced':
    case 'complained':
      return text(d.reply) || text(d.code)
    case 'deferred':
      return joined(
        text(d.reason),
        text(d.error),
        d.attempts ? `attempt ${text(d.attempts)}` : '',
        d.dueAt ? `next ${text(d.dueAt)}` : '',
      )
    case 'expired':
      return text(d.error)
    case 'queued': {
      const to = Array.isArray(d.to) ? d.to.length : 0
      return joined(
        d.from ? `from ${text(d.from)}` : '',
        `${to} recipient${to === 1 ? '' : 's'}`,
        d.subject ? JSON.stringify(d.subject) : '',
      )
    }
    default:
      return ''
  }
}

/** `2026-12-02T23:02:05.599Z  sent        01m8…  ok@example.com  250 OK; via default` */
export function eventLine(event: StoredEvent): string {
  const line = [
    event.at.toISOString(),
    event.type.padEnd(TYPE_WIDTH),
    event.id,
    event.recipient ?? '-',
    truncate(eventSummary(event).replace(/\s+/g, ' ').trim(), SUMMARY_WIDTH),
  ]
    .join('  ')
    .trimEnd()
  // Addresses, subjects and replies come from strangers: no escape sequences reach the terminal.
  return printable(line)
}
