import { Option, type Command } from 'commander'
import { parseDuration } from '../../config/duration.js'
import { PRIORITIES, type Priority, type SendOptions } from '../../message/types.js'
import type { TemplateMailInput } from '../../templates/template-mail.js'
import { CliExit, EXIT, withOutbox } from '../context.js'
import { readContext, withTemplateErrors } from '../template-input.js'
import { printError, printOut } from '../terminal.js'

/** Collects a repeatable option's values. */
export const collect = (value: string, previous: string[]): string[] => [...previous, value]

/** Parses `--send-at`: a duration from now (`10m`, `2h`) or a date (`2026-11-01T08:00:00Z`). */
export function parseSendAt(text: string): Date {
  const ms = parseDuration(text)
  if (ms !== undefined) return new Date(Date.now() + ms)
  const date = new Date(text)
  if (Number.isNaN(date.getTime())) {
    throw new CliExit(
      EXIT.usage,
      `--send-at ${JSON.stringify(text)}: expected a duration from now such as 10m or 2h, or a date such as 2026-11-01T08:00:00Z`,
    )
  }
  return date
}

/** A list option as the message field: one value as it is, several as a list. */
const addresses = (values: string[]) => (values.length === 1 ? values[0]! : values)

interface SendTemplateOptions {
  to: string[]
  cc: string[]
  bcc: string[]
  from?: string
  replyTo?: string
  language?: string
  context?: string
  contextFile?: string
  tag: string[]
  priority?: Priority
  sendAt?: string
  idempotencyKey?: string
  json?: boolean
}

export function registerSendTemplateCommand(program: Command): void {
  program
    .command('send-template')
    .description(
      'queue one message made from a stored template, rendered now with the context given; ' +
        'prints its queue id. Exit code 2 (nothing stored) for bad input: an unknown template or ' +
        'language, a variable missing from the context, a bad address',
    )
    .argument('<name>', 'the template, as `outbox templates list` shows it')
    .option('--to <addresses>', 'recipients, comma-separated; repeatable (required)', collect, [])
    .option('--cc <addresses>', 'Cc recipients, comma-separated; repeatable', collect, [])
    .option('--bcc <addresses>', 'Bcc recipients, comma-separated; repeatable', collect, [])
    .option('--from <address>', 'the sender (default: the config key templates.from)')
    .option('--reply-to <address>', 'the Reply-To address')
    .option(
      '--language <tag>',
      'the language, such as de or de-AT (falls back to the base language, then templates.defaultLanguage)',
    )
    .option('--context <json>', 'the values the template uses, a JSON object: \'{"name":"Ann"}\'')
    .option('--context-file <file>', 'the context from a JSON file, or - for standard input')
    .option(
      '--tag <tag>',
      'a tag for finding it later (outbox list --tag); repeatable',
      collect,
      [],
    )
    .addOption(
      new Option('--priority <priority>', 'how urgently (now: delivered before the command exits)')
        .choices(PRIORITIES)
        .default('normal'),
    )
    .option('--send-at <when>', 'not before: a duration from now (10m, 2h) or a date')
    .option('--idempotency-key <key>', 'a key unique to this mail: a second run stores nothing')
    .option(
      '--json',
      'print JSON: { id, messageId, duplicate, status, suppressed, template: { name, language, version } }',
    )
    .action(async (name: string, opts: SendTemplateOptions, command: Command) => {
      if (opts.to.length === 0) {
        throw new CliExit(
          EXIT.usage,
          'no recipients: give --to ADDRESS (comma-separated, or repeat it)',
        )
      }
      const context = await readContext(opts)
      const sendOptions: SendOptions = {
        priority: opts.priority ?? 'normal',
        ...(opts.sendAt !== undefined ? { sendAt: parseSendAt(opts.sendAt) } : {}),
        ...(opts.idempotencyKey !== undefined ? { idempotencyKey: opts.idempotencyKey } : {}),
        ...(opts.tag.length > 0 ? { tags: opts.tag } : {}),
      }
      const mail: TemplateMailInput = {
        template: name,
        ...(opts.language !== undefined ? { language: opts.language } : {}),
        context,
        to: addresses(opts.to),
        ...(opts.cc.length > 0 ? { cc: addresses(opts.cc) } : {}),
        ...(opts.bcc.length > 0 ? { bcc: addresses(opts.bcc) } : {}),
        ...(opts.from !== undefined ? { from: opts.from } : {}),
        ...(opts.replyTo !== undefined ? { replyTo: opts.replyTo } : {}),
      }
      await withOutbox(command, async (outbox) => {
        const result = await withTemplateErrors(() => outbox.send(mail, sendOptions))
        const { template } = await outbox.admin.getMessage(result.id)
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ ...result, template })}\n`)
        } else {
          const made = template
            ? ` from template ${template.name} (${template.language}, version ${template.version})`
            : ''
          printOut(
            result.duplicate
              ? `${result.id} already ${result.status}${made}: the idempotency key was used before, nothing new was stored\n`
              : `${result.status} ${result.id}${made}\n`,
          )
          for (const address of result.suppressed) {
            printError(`${address} is on the suppression list: not sent to it`)
          }
        }
        // Every recipient suppressed: the message failed at once.
        if (result.status === 'failed') process.exitCode = EXIT.failed
      })
    })
}
