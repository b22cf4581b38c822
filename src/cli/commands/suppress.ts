import { Option, type Command } from 'commander'
import { once } from 'node:events'
import { createReadStream, createWriteStream, statSync } from 'node:fs'
import type { Writable } from 'node:stream'
import type { SuppressExportFormat } from '../../admin/suppressions.js'
import { SUPPRESSION_REASONS, type Suppression, type SuppressionReason } from '../../store/store.js'
import { CliExit, EXIT, withOutbox } from '../context.js'
import { age, table, truncate } from '../format.js'
import { printable, printError, printOut } from '../terminal.js'

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 'es'}`

function row(s: Suppression, now: number): string[] {
  return [
    s.address,
    s.reason,
    age(s.createdAt, now),
    s.messageId ?? '-',
    truncate(s.reply ?? '', 70),
  ]
}

/** `--limit`: entries per page. */
function parseLimit(text: string): number {
  const limit = /^\d+$/.test(text.trim()) ? Number(text) : NaN
  if (!(limit >= 1 && limit <= 1000)) {
    throw new CliExit(
      EXIT.usage,
      `--limit ${JSON.stringify(text)}: expected a whole number of entries per page, from 1 to 1000`,
    )
  }
  return limit
}

const reasonOption = () =>
  new Option('--reason <reason>', 'why it is suppressed').choices(SUPPRESSION_REASONS)

/** A file to read, checked before the store is opened: a typo is bad usage, not a failure. */
function readable(file: string): NodeJS.ReadableStream {
  if (file === '-') return process.stdin
  try {
    if (!statSync(file).isFile()) throw new Error('not a file')
  } catch (error) {
    throw new CliExit(EXIT.usage, `cannot read ${file}: ${(error as Error).message}`)
  }
  return createReadStream(file)
}

async function openForWriting(file: string): Promise<Writable> {
  const out = createWriteStream(file, { mode: 0o600 })
  try {
    await once(out, 'open')
  } catch (error) {
    throw new CliExit(EXIT.usage, `cannot write ${file}: ${(error as Error).message}`)
  }
  return out
}

async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain')
}

export function registerSuppressCommand(program: Command): void {
  const suppress = program
    .command('suppress')
    .description(
      'the suppression list: addresses that are never sent to (they fail at once as suppressed)',
    )

  suppress
    .command('list')
    .description('show the list in address order, a page at a time')
    .option('--search <text>', 'only addresses containing this text')
    .addOption(new Option('--limit <n>', 'entries per page (1-1000)').default('50'))
    .option('--cursor <cursor>', 'continue after the page that printed this cursor')
    .option('--json', 'print JSON: { entries, nextCursor, total }')
    .action(async (opts: Record<string, string | boolean | undefined>, command: Command) => {
      const limit = parseLimit(String(opts.limit))
      await withOutbox(command, async (outbox) => {
        const page = await outbox.admin.suppressions.list({
          limit,
          cursor: typeof opts.cursor === 'string' ? opts.cursor : null,
          ...(typeof opts.search === 'string' ? { search: opts.search } : {}),
        })
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(page, null, 2)}\n`)
          return
        }
        if (page.entries.length === 0) {
          printOut(opts.search ? 'no suppressed address matches\n' : 'no suppressed addresses\n')
          return
        }
        const now = Date.now()
        printOut(
          `${table(
            ['ADDRESS', 'REASON', 'AGE', 'MESSAGE', 'REPLY'],
            page.entries.map((s) => row(s, now)),
          )}\n`,
        )
        printOut(`${page.entries.length} of ${page.total}\n`)
        if (page.nextCursor) printOut(`more: add --cursor ${page.nextCursor}\n`)
      })
    })

  suppress
    .command('add')
    .description('put addresses on the list (those already on it are kept as they are)')
    .argument('<addresses...>', 'email addresses')
    .addOption(reasonOption().default('manual'))
    .option('--note <text>', 'why, for the next operator (stored as the reply)')
    .option('--json', 'print JSON: { added, existing }')
    .action(
      async (
        addresses: string[],
        opts: { reason: SuppressionReason; note?: string; json?: boolean },
        command: Command,
      ) => {
        await withOutbox(command, async (outbox) => {
          const result = await outbox.admin.suppressions.add(addresses, {
            reason: opts.reason,
            reply: opts.note ?? null,
          })
          if (opts.json) {
            process.stdout.write(`${JSON.stringify(result)}\n`)
            return
          }
          printOut(`added ${plural(result.added.length, 'address')}\n`)
          for (const a of result.existing) printOut(`${a} was already on the list\n`)
        })
      },
    )

  suppress
    .command('remove')
    .description('take addresses off the list (exit code 1 if one was not on it)')
    .argument('<addresses...>', 'email addresses')
    .option('--json', 'print JSON: { removed, notFound }')
    .action(async (addresses: string[], opts: { json?: boolean }, command: Command) => {
      await withOutbox(command, async (outbox) => {
        const result = await outbox.admin.suppressions.remove(addresses)
        if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`)
        else {
          printOut(`removed ${plural(result.removed.length, 'address')}\n`)
          for (const a of result.notFound) printError(`${a} was not on the suppression list`)
        }
        if (result.notFound.length > 0) process.exitCode = EXIT.failed
      })
    })

  suppress
    .command('import')
    .description(
      'add the addresses of a file: one per line, or a CSV with a header naming an address (or email) ' +
        'column and optionally reason and reply columns; # lines and blank lines are skipped. ' +
        'Every line is checked first: one bad line stores nothing (unless --skip-invalid)',
    )
    .argument('<file>', 'the file, or - for standard input')
    .addOption(reasonOption().default('manual'))
    .option('--note <text>', 'reply stored with addresses whose line has none')
    .option('--skip-invalid', 'store the good lines and report the bad ones (exit code 1)')
    .option('--json', 'print JSON: { records, added, existing, duplicates, skipped }')
    .action(
      async (
        file: string,
        opts: { reason: SuppressionReason; note?: string; skipInvalid?: boolean; json?: boolean },
        command: Command,
      ) => {
        const source = readable(file)
        await withOutbox(command, async (outbox) => {
          const result = await outbox.admin.suppressions.import(
            source as AsyncIterable<Uint8Array>,
            {
              reason: opts.reason,
              reply: opts.note ?? null,
              skipInvalid: opts.skipInvalid === true,
            },
          )
          if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`)
          else {
            printOut(
              `read ${result.records} address${result.records === 1 ? '' : 'es'}: ` +
                `added ${result.added}, already on the list ${result.existing}, ` +
                `repeated ${result.duplicates}` +
                `${opts.skipInvalid ? `, skipped ${result.skipped.length}` : ''}\n`,
            )
            for (const p of result.skipped) printError(`line ${p.line} skipped: ${p.message}`)
          }
          if (result.skipped.length > 0) process.exitCode = EXIT.failed
        })
      },
    )

  suppress
    .command('export')
    .description(
      'write the whole list as CSV (address,reason,reply,message,created_at) or JSON lines',
    )
    .argument(
      '[file]',
      'the file to write (created readable by you only), or - for standard output',
      '-',
    )
    .addOption(
      new Option('--format <format>', 'csv or json (one object a line)')
        .choices(['csv', 'json'])
        .default('csv'),
    )
    .option('--search <text>', 'only addresses containing this text')
    .action(
      async (
        file: string,
        opts: { format: SuppressExportFormat; search?: string },
        command: Command,
      ) => {
        await withOutbox(command, async (outbox) => {
          const lines = outbox.admin.suppressions.export({
            format: opts.format,
            ...(opts.search ? { search: opts.search } : {}),
          })
          // Addresses are personal data: a new file is readable by its owner only.
          const out = file === '-' ? process.stdout : await openForWriting(file)
          let count = 0
          try {
            for await (const line of lines) {
              await write(out, line)
              count++
            }
          } finally {
            if (out !== process.stdout) {
              out.end()
              await once(out, 'close')
            }
          }
          if (file !== '-') {
            const entries = opts.format === 'csv' ? count - 1 : count
            process.stderr.write(
              printable(`exported ${plural(entries, 'address')} to ${file}\n`, '\n'),
            )
          }
        })
      },
    )

  suppress.commands.forEach((c) =>
    c.exitOverride().showHelpAfterError('(run with --help for usage)'),
  )
}
