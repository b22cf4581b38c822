import type { Command } from 'commander'
import type { WebhookStatus } from '../../admin/webhooks.js'
import { CONFIG_KEYS } from '../../config/config-schema.js'
import { withOutbox } from '../context.js'
import { age, relativeTime, table, truncate } from '../format.js'
import { printOut } from '../terminal.js'

const NONE = `no webhooks configured (set ${CONFIG_KEYS.webhooks.file} in the config file, or ${CONFIG_KEYS.webhooks.env})`

function state(w: WebhookStatus): string {
  if (w.state !== 'failing') return w.state
  const since = w.failingSince ? ` for ${age(w.failingSince)}` : ''
  const next = w.nextAttemptAt ? `, next try ${relativeTime(w.nextAttemptAt)}` : ''
  return `failing${since}${next}`
}

function lastError(w: WebhookStatus): string {
  if (!w.lastError) return '-'
  const when = w.lastErrorAt ? `${age(w.lastErrorAt)} ago: ` : ''
  return `${when}${truncate(w.lastError, 100)}`
}

/** The human view: one row per endpoint, the last error last (it is the longest). */
export function formatWebhooks(webhooks: readonly WebhookStatus[]): string {
  return table(
    [
      'NAME',
      'STATE',
      'BACKLOG',
      'DELIVERED',
      'UNCERTAIN',
      'LAST SUCCESS',
      'FAILED',
      'WORKER',
      'LAST ERROR',
    ],
    webhooks.map((w) => [
      w.name,
      state(w),
      String(w.backlog) + (w.retrying > 0 ? ` (${w.retrying} retrying)` : ''),
      String(w.delivered),
      String(w.uncertain),
      w.lastSuccessAt ? `${age(w.lastSuccessAt)} ago` : '-',
      w.failed.batches > 0 ? `${w.failed.batches} batches, ${w.failed.events} events` : '-',
      w.worker ?? '-',
      lastError(w),
    ]),
  )
}

export function registerWebhooksCommand(program: Command): void {
  const webhooks = program
    .command('webhooks')
    .description(
      'each webhook endpoint: its state, backlog, deliveries, the last success and error, what was given up, the worker delivering to it',
    )
    .option('--json', 'print JSON: a list of endpoints')
    .action(async (opts: { json?: boolean }, command: Command) => {
      await withOutbox(command, async (outbox) => {
        const list = await outbox.admin.webhooks.list()
        if (opts.json) process.stdout.write(`${JSON.stringify(list, null, 2)}\n`)
        else printOut(`${list.length > 0 ? formatWebhooks(list) : NONE}\n`)
      })
    })

  webhooks
    .command('retry')
    .description(
      'send again what endpoints gave up on (all endpoints, or those named); their workers do it',
    )
    .argument('[names...]', 'endpoint names, as `outbox webhooks` shows them')
    .option('--json', 'print JSON: { asked }')
    .action(async (names: string[], _opts: unknown, command: Command) => {
      // `--json` after the names is taken by `outbox webhooks`, which has one too.
      const json = command.optsWithGlobals<{ json?: boolean }>().json === true
      await withOutbox(command, async (outbox) => {
        // An unknown name is an InvalidMessageError: exit 2, naming the configured ones.
        const asked = await outbox.admin.webhooks.retry(names)
        if (json) process.stdout.write(`${JSON.stringify({ asked })}\n`)
        else if (asked === 0 && names.length === 0) printOut(`${NONE}; nothing to retry\n`)
        else
          printOut(
            `asked ${asked} endpoint${asked === 1 ? '' : 's'} to retry what ${asked === 1 ? 'it' : 'they'} gave up on; ` +
              'a running worker sends it (`outbox webhooks` shows the progress)\n',
          )
      })
    })

  webhooks.commands.forEach((c) =>
    c.exitOverride().showHelpAfterError('(run with --help for usage)'),
  )
}
