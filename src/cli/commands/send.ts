import type { Command } from 'commander'
import { createCliLogger, commandConfig, EXIT, openOutbox } from '../context.js'

export function registerSendCommand(program: Command): void {
  program
    .command('send')
    .description(
      'deliver everything due now, then exit (for cron). Exit code 1 if any message failed permanently in this run.',
    )
    .option('--json', 'print the counts as JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      const { config } = commandConfig(command)
      const outbox = await openOutbox(
        config,
        createCliLogger(
          { ...config, logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel },
          'stderr',
        ),
        // A cron job pointed at a mistyped path must fail, not drain a new empty queue forever.
        'refuse',
      )
      try {
        const counts = await outbox.drain()
        process.stdout.write(
          opts.json
            ? `${JSON.stringify(counts)}\n`
            : `sent ${counts.sent}, failed ${counts.failed}, deferred ${counts.deferred}\n`,
        )
        process.exitCode = counts.failed > 0 ? EXIT.failed : EXIT.ok
      } finally {
        await outbox.close()
      }
    })
}
