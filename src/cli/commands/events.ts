import type { Command } from 'commander'
import { EVENT_TYPES, type EventType } from '../../store/store.js'
import { CliExit, EXIT, withOutbox } from '../context.js'
import { eventLine } from '../event-line.js'
import { createLineOutput } from '../line-output.js'
import { printOut } from '../terminal.js'
import { parseSince } from './list.js'

/** Parses `--type failed,bounced`. */
export function parseEventTypes(text: string): EventType[] {
  const types = text
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
  for (const type of types) {
    if (!(EVENT_TYPES as readonly string[]).includes(type)) {
      throw new CliExit(
        EXIT.usage,
        `--type ${JSON.stringify(type)}: unknown event type; expected one of ${EVENT_TYPES.join(', ')}`,
      )
    }
  }
  return types as EventType[]
}

/** Parses `--limit`: how many events to print before exiting. */
function parseEventLimit(text: string): number {
  const limit = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN
  if (!(limit >= 1)) {
    throw new CliExit(
      EXIT.usage,
      `--limit ${JSON.stringify(text)}: expected a whole number of events, from 1`,
    )
  }
  return limit
}

interface EventsOptions {
  follow?: boolean
  type?: string
  since?: string
  json?: boolean
  limit?: string
}

export function registerEventsCommand(program: Command): void {
  program
    .command('events')
    .description(
      'print the event log (queued, sent, deferred, failed, bounced, …) of every process, oldest first; ' +
        'with --follow, wait for new events like tail -f until Ctrl-C',
    )
    .option('-f, --follow', 'keep printing new events (from now, or from --since) until stopped')
    .option('--type <types>', `only these types, comma-separated (${EVENT_TYPES.join(', ')})`)
    .option('--since <when>', 'start at this time: a duration back from now (1h, 7d) or a date')
    .option('--json', 'print one JSON object per line: the event, its time in ISO 8601')
    .option('--limit <n>', 'stop after this many events')
    .action(async (opts: EventsOptions, command: Command) => {
      // Bad options stop the command before it opens the store.
      const types = opts.type !== undefined ? parseEventTypes(opts.type) : undefined
      const since = opts.since !== undefined ? parseSince(opts.since) : undefined
      const limit = opts.limit !== undefined ? parseEventLimit(opts.limit) : Infinity
      await withOutbox(command, async (outbox) => {
        const controller = new AbortController()
        const stop = () => controller.abort()
        // Ctrl-C, or `kill` from a supervisor, ends a follower cleanly: the iteration stops at
        // once (even mid-wait) and the store is closed by withOutbox.
        process.once('SIGINT', stop)
        process.once('SIGTERM', stop)
        const out = createLineOutput(process.stdout, controller.signal, stop)
        let printed = 0
        try {
          for await (const event of outbox.events({
            follow: opts.follow === true,
            signal: controller.signal,
            ...(since ? { since } : {}),
            ...(types ? { types } : {}),
          })) {
            await out.write(opts.json ? JSON.stringify(event) : eventLine(event))
            if (++printed >= limit || out.closed) break
          }
        } finally {
          process.off('SIGINT', stop)
          process.off('SIGTERM', stop)
        }
        if (printed === 0 && !opts.json && !opts.follow && !out.closed) printOut('no events\n')
      })
    })
}
