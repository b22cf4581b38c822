import { Option, type Command } from 'commander'
import { parseDuration } from '../../config/duration.js'
import { MESSAGE_STATUSES, type MessageStatus } from '../../message/types.js'
import type { MessageFilter, MessageSummary } from '../../store/store.js'
import { CliExit, EXIT, withOutbox } from '../context.js'
import { age, relativeTime, table, truncate } from '../format.js'
import { printOut } from '../terminal.js'

/** Parses `--since`: a duration back from now (`1h`, `7d`) or a date (`2026-11-01`). */
export function parseSince(text: string): Date {
  const ms = parseDuration(text)
  if (ms !== undefined) return new Date(Date.now() - ms)
  const date = new Date(text)
  if (Number.isNaN(date.getTime())) {
    throw new CliExit(
      EXIT.usage,
      `--since ${JSON.stringify(text)}: expected a duration such as 1h or 7d, or a date such as 2026-11-01`,
    )
  }
  return date
}

/** Parses `--status a,b`. */
export function parseStatuses(text: string): MessageStatus[] {
  const statuses = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  for (const status of statuses) {
    if (!MESSAGE_STATUSES.includes(status as MessageStatus)) {
      throw new CliExit(
        EXIT.usage,
        `--status ${JSON.stringify(status)}: expected one of ${MESSAGE_STATUSES.join(', ')}`,
      )
    }
  }
  return statuses as MessageStatus[]
}

/** Parses `--limit`: a whole number of messages per page. */
export function parseLimit(text: string): number {
  const limit = /^\d+$/.test(text.trim()) ? Number(text) : NaN
  if (!(limit >= 1 && limit <= 1000)) {
    throw new CliExit(
      EXIT.usage,
      `--limit ${JSON.stringify(text)}: expected a whole number of messages per page, from 1 to 1000`,
    )
  }
  return limit
}

function row(m: MessageSummary, now: number): string[] {
  const waiting = m.status === 'queued' || m.status === 'deferred'
  const to =
    m.recipients.length > 1
      ? `${m.recipients[0]} +${m.recipients.length - 1}`
      : (m.recipients[0] ?? '')
  return [
    m.id,
    m.status + (m.captured ? '*' : ''),
    m.priority,
    age(m.createdAt, now),
    waiting ? relativeTime(m.dueAt, now) : '-',
    String(m.attempts),
    truncate(m.from, 30),
    truncate(to, 34),
    truncate(m.subject ?? '', 40),
  ]
}

export function registerListCommand(program: Command): void {
  program
    .command('list')
    .description('show the queue, newest first, a page at a time')
    .option(
      '--status <statuses>',
      `only these statuses, comma-separated (${MESSAGE_STATUSES.join(', ')})`,
    )
    .option('--to <address>', 'only messages to this recipient, or @domain')
    .option('--from <address>', 'only messages from this sender')
    .option('--tag <tag>', 'only messages with this tag')
    .option('--since <when>', 'only messages created since: a duration (1h, 7d) or a date')
    .option('--subject <text>', 'only messages whose subject contains this text')
    .addOption(new Option('--limit <n>', 'messages per page (1-1000)').default('50'))
    .option('--cursor <cursor>', 'continue after the page that printed this cursor')
    .option('--json', 'print JSON: { messages, nextCursor }')
    .action(async (opts: Record<string, string | boolean | undefined>, command: Command) => {
      const filter: MessageFilter = {}
      if (typeof opts.status === 'string') filter.status = parseStatuses(opts.status)
      if (typeof opts.to === 'string') filter.to = opts.to
      if (typeof opts.from === 'string') filter.from = opts.from
      if (typeof opts.tag === 'string') filter.tag = opts.tag
      if (typeof opts.since === 'string') filter.since = parseSince(opts.since)
      // NFC, as stored subjects are: "café" finds café however either was composed.
      if (typeof opts.subject === 'string') filter.subject = opts.subject.normalize('NFC')
      const limit = parseLimit(String(opts.limit))
      await withOutbox(command, async (outbox) => {
        const page = await outbox.admin.list(filter, {
          limit,
          cursor: typeof opts.cursor === 'string' ? opts.cursor : null,
        })
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(page, null, 2)}\n`)
          return
        }
        if (page.messages.length === 0) {
          printOut('no messages\n')
          return
        }
        const now = Date.now()
        printOut(
          `${table(
            ['ID', 'STATUS', 'PRIORITY', 'AGE', 'NEXT', 'TRIES', 'FROM', 'TO', 'SUBJECT'],
            page.messages.map((m) => row(m, now)),
          )}\n`,
        )
        if (page.messages.some((m) => m.captured))
          printOut('* captured: kept, not sent (no upstream configured)\n')
        if (page.nextCursor) printOut(`more: add --cursor ${page.nextCursor}\n`)
      })
    })
}
