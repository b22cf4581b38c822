import type { Command } from 'commander'
import type { ActionResult, Admin } from '../../admin/admin.js'
import { whyUnchanged, type QueueAction } from '../../admin/queue-actions.js'
import type { MessageSelector } from '../../store/store.js'
import { CliExit, EXIT, withOutbox } from '../context.js'
import { printError, printOut } from '../terminal.js'
import { parseStatuses } from './list.js'

/**
 * Prints what an action did. Each named id that changed nothing is reported with the reason
 * (its status, or that it does not exist), and then the exit code is 1: a script that held
 * a message learns that it was not held.
 */
async function report(
  action: QueueAction,
  verb: string,
  result: ActionResult,
  admin: Admin,
  json: boolean | undefined,
): Promise<void> {
  if (json) {
    process.stdout.write(`${JSON.stringify(result)}\n`)
  } else {
    printOut(`${verb} ${result.changed.length} message${result.changed.length === 1 ? '' : 's'}\n`)
    for (const id of result.unchanged) {
      const status = await admin.getMessage(id).then(
        (m) => m.status,
        () => null,
      )
      printError(
        `${id} left alone: ${status ? whyUnchanged(action, status) : 'it changed meanwhile'}`,
      )
    }
    for (const id of result.notFound) printError(`no message with id ${id}`)
  }
  if (result.notFound.length || result.unchanged.length) process.exitCode = EXIT.failed
}

/** Ids from the arguments, or the bulk selector an option names; never both, never neither. */
function selector(ids: string[], bulk: MessageSelector | null, usage: string): MessageSelector {
  if (ids.length && bulk) throw new CliExit(EXIT.usage, `give message ids or ${usage}, not both`)
  if (!ids.length && !bulk)
    throw new CliExit(EXIT.usage, `give at least one message id, or ${usage}`)
  return bulk ?? { ids }
}

interface ActionSpec {
  name: QueueAction
  description: string
  verb: string
  run: (admin: Admin, selector: MessageSelector) => Promise<ActionResult>
  /** Bulk options: flag → selector. */
  bulk?: { flags: string; description: string; select: (value: string | true) => MessageSelector }[]
}

const ACTIONS: ActionSpec[] = [
  {
    name: 'retry',
    description:
      'send deferred messages now (ignoring their backoff) and requeue failed ones (their failed recipients only)',
    verb: 'retrying',
    run: (admin, s) => admin.retry(s),
    bulk: [
      {
        flags: '--deferred',
        description: 'every deferred message, now',
        select: () => ({ filter: { status: ['deferred'] } }),
      },
      {
        flags: '--failed',
        description: 'every failed message, requeued',
        select: () => ({ filter: { status: ['failed'] } }),
      },
    ],
  },
  {
    name: 'hold',
    description: 'set queued or deferred messages aside until released',
    verb: 'held',
    run: (admin, s) => admin.hold(s),
  },
  {
    name: 'release',
    description: 'put held messages back in the queue, due at once',
    verb: 'released',
    run: (admin, s) => admin.release(s),
  },
  {
    name: 'delete',
    description: 'remove messages from the queue, with their attempt log',
    verb: 'deleted',
    run: (admin, s) => admin.delete(s),
    bulk: [
      {
        flags: '--status <status>',
        description: 'every message in this status (e.g. failed)',
        select: (value) => ({ filter: { status: parseStatuses(String(value)) } }),
      },
    ],
  },
]

export function registerActionCommands(program: Command): void {
  for (const spec of ACTIONS) {
    const command = program
      .command(spec.name)
      .description(spec.description)
      .argument('[ids...]', 'queue ids')
      .option('--json', 'print JSON: { changed, unchanged, notFound }')
    for (const option of spec.bulk ?? []) command.option(option.flags, option.description)
    command.action(
      async (ids: string[], opts: Record<string, string | true | undefined>, cmd: Command) => {
        const chosen = (spec.bulk ?? []).filter((b) => opts[optionKey(b.flags)] !== undefined)
        if (chosen.length > 1)
          throw new CliExit(
            EXIT.usage,
            `choose one of ${chosen.map((b) => b.flags.split(' ')[0]).join(', ')}`,
          )
        const bulk = chosen[0] ? chosen[0].select(opts[optionKey(chosen[0].flags)]!) : null
        const usage = (spec.bulk ?? []).map((b) => b.flags.split(' ')[0]).join(' or ') || 'ids'
        const selected = selector(ids, bulk, usage)
        await withOutbox(cmd, async (outbox) => {
          const result = await spec.run(outbox.admin, selected)
          await report(spec.name, spec.verb, result, outbox.admin, opts.json === true)
        })
      },
    )
  }
}

/** `--status <status>` → `status`; `--deferred` → `deferred`. */
function optionKey(flags: string): string {
  return flags
    .split(' ')[0]!
    .replace(/^--/, '')
    .replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())
}
