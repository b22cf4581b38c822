import type { Command } from 'commander'
import { redactUrl } from '../../delivery/upstream.js'
import { withOutbox } from '../context.js'

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description("create the store's schema, or upgrade it to this version of Outbox")
    .action(async (_opts, command: Command) => {
      // Opening a store applies its pending migrations under a lock.
      await withOutbox(
        command,
        async (_outbox, { config }) => {
          process.stdout.write(`store ${redactUrl(config.store)} is up to date\n`)
        },
        'create',
      )
    })
}
