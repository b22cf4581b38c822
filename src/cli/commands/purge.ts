import type { Command } from 'commander'
import type { PurgeStatus } from '../../admin/admin.js'
import { parseDuration } from '../../config/duration.js'
import { CliExit, EXIT, withOutbox } from '../context.js'

export function registerPurgeCommand(program: Command): void {
  program
    .command('purge')
    .description(
      'delete finished messages (and their attempt log) that finished longer ago than --older-than',
    )
    .requiredOption('--older-than <duration>', 'age since finishing, e.g. 7d or 12h')
    .option('--status <status>', 'sent, failed or all', 'all')
    .option('--json', 'print JSON: { purged }')
    .action(
      async (opts: { olderThan: string; status: string; json?: boolean }, command: Command) => {
        const olderThanMs = parseDuration(opts.olderThan)
        if (olderThanMs === undefined) {
          throw new CliExit(
            EXIT.usage,
            `--older-than ${JSON.stringify(opts.olderThan)}: expected a duration such as 7d or 12h`,
          )
        }
        if (!['sent', 'failed', 'all'].includes(opts.status)) {
          throw new CliExit(
            EXIT.usage,
            `--status ${JSON.stringify(opts.status)}: expected sent, failed or all`,
          )
        }
        await withOutbox(command, async (outbox) => {
          const purged = await outbox.admin.purge({
            olderThanMs,
            status: opts.status as PurgeStatus,
          })
          process.stdout.write(
            opts.json
              ? `${JSON.stringify({ purged })}\n`
              : `purged ${purged} message${purged === 1 ? '' : 's'}\n`,
          )
        })
      },
    )
}
