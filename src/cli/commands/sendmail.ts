import type { Command } from 'commander'
import { hostname, userInfo } from 'node:os'
import { ConfigError, InvalidMessageError, StoreUnavailableError } from '../../errors.js'
import { prepareSendmailMessage } from '../../ingress/sendmail-message.js'
import { CliExit, withOutbox } from '../context.js'

/** sendmail's exit codes (sysexits.h), which callers such as PHP and cron understand. */
const EX = { usage: 64, dataErr: 65, tempFail: 75, config: 78 } as const

interface SendmailArgs {
  fromHeaders: boolean
  /** A line holding only "." ends the message (unless -i / -oi). */
  dotEnds: boolean
  sender: string | null
  recipients: string[]
}

/** Parses the sendmail flags programs use: -t, -i, -oi, -f ADDR / -fADDR, -F NAME; others are ignored. */
export function parseSendmailArgs(args: readonly string[]): SendmailArgs {
  const parsed: SendmailArgs = { fromHeaders: false, dotEnds: true, sender: null, recipients: [] }
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === '--') {
      parsed.recipients.push(...args.slice(i + 1))
      break
    }
    if (!arg.startsWith('-') || arg === '-') {
      parsed.recipients.push(arg)
    } else if (arg === '-t') {
      parsed.fromHeaders = true
    } else if (arg === '-i' || arg === '-oi') {
      parsed.dotEnds = false
    } else if (arg === '-f' || arg === '-r') {
      parsed.sender = args[++i] ?? null
    } else if (arg.startsWith('-f') || arg.startsWith('-r')) {
      parsed.sender = arg.slice(2)
    } else if (
      arg === '-F' ||
      arg === '-O' ||
      arg === '-B' ||
      arg === '-N' ||
      arg === '-R' ||
      arg === '-V' ||
      arg === '-X'
    ) {
      i++ // these take a value we do not use
    }
    // -bm, -odi, -odb, -oem, -v …: accepted and ignored, as other sendmail replacements do.
  }
  return parsed
}

/** The message as read: up to a lone "." line when `dotEnds`, CRLF or LF endings alike. */
export function cutAtDot(input: Buffer, dotEnds: boolean): Buffer {
  if (!dotEnds) return input
  const text = input.toString('latin1')
  const match = /(^|\r?\n)\.\r?\n?$|(^|\r?\n)\.\r?\n/m.exec(text)
  return match ? input.subarray(0, match.index + (match[1] ?? match[2] ?? '').length) : input
}

/**
 * The exit code callers act on: 75 (EX_TEMPFAIL) whenever the store could not take the message,
 * wherever that failed (opening, migrating, writing), so that PHP, cron and MTAs keep it and try
 * again; 65 for a message that can never be queued.
 */
function sendmailFailure(error: unknown): unknown {
  if (error instanceof CliExit) return error
  if (error instanceof InvalidMessageError) return new CliExit(EX.dataErr, error.message)
  if (error instanceof StoreUnavailableError) return new CliExit(EX.tempFail, error.message)
  // A store path whose folder is missing, say: it will not fix itself, but say so as sendmail does.
  if (error instanceof ConfigError) return new CliExit(EX.config, error.message)
  return error
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

export function registerSendmailCommand(program: Command): void {
  program
    .command('sendmail')
    .description(
      'read a message on stdin and queue it, like /usr/sbin/sendmail: -t takes recipients from To/Cc/Bcc, ' +
        '-f sets the sender, -i/-oi keep lines of a single dot; recipients may follow. Exit 0 once queued.',
    )
    .argument('[args...]', 'sendmail flags and recipients')
    .allowUnknownOption()
    .helpOption('--help', 'display help for command')
    .action(async (args: string[], _opts, command: Command) => {
      const flags = parseSendmailArgs(args)
      const input = cutAtDot(await readStdin(), flags.dotEnds)
      const message = prepareSendmailMessage(input, {
        ...flags,
        localSender: `${userInfo().username}@${hostname()}`,
        now: new Date(),
      })
      if (message.to.length === 0) {
        throw new CliExit(
          EX.usage,
          'no recipients: name them as arguments or use -t to read To/Cc/Bcc',
        )
      }
      let queued = false
      try {
        await withOutbox(
          command,
          async (outbox) => {
            const result = await outbox.sendRaw(message)
            queued = true
            process.stderr.write(`outbox: queued as ${result.id}\n`)
          },
          'create',
        )
      } catch (error) {
        // Once queued, exit 0 whatever closing the store says: a retry would send it twice.
        if (queued) {
          process.stderr.write(`outbox: warning: ${(error as Error).message}\n`)
          return
        }
        throw sendmailFailure(error)
      }
    })
}
