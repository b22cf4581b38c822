import type { Command } from 'commander'
import { redactUrl } from '../../delivery/upstream.js'
import { commandConfig, createCliLogger, openOutbox } from '../context.js'

/** Runs a worker until SIGTERM/SIGINT; `start` is the all-in-one flavour. */
async function runDaemon(command: Command, kind: 'start' | 'worker'): Promise<void> {
  const { config } = commandConfig(command)
  const logger = createCliLogger(config, 'stdout')
  const outbox = await openOutbox(config, logger)
  const worker = outbox.worker()
  await worker.start()
  const store = redactUrl(config.store)
  const upstream = config.upstream === 'capture' ? 'capture' : redactUrl(config.upstream)
  logger.info(
    { store, upstream, concurrency: config.concurrency, mode: kind },
    upstream === 'capture'
      ? `outbox ${kind}: queue in ${store}; no upstream configured, so mail is captured and kept, not sent (set OUTBOX_UPSTREAM=smtp://…)`
      : `outbox ${kind}: queue in ${store}; delivering to ${upstream}`,
  )

  await new Promise<void>((resolve) => {
    let stopping = false
    const stop = (signal: string) => {
      if (stopping) return
      stopping = true
      logger.info({ signal }, 'stopping: finishing sends in progress, giving back the rest')
      outbox
        .close()
        .catch((error: unknown) =>
          logger.error({ err: (error as Error).message }, 'error while stopping'),
        )
        .finally(resolve)
    }
    process.once('SIGTERM', () => stop('SIGTERM'))
    process.once('SIGINT', () => stop('SIGINT'))
  })
  logger.flush()
}

export function registerDaemonCommands(program: Command): void {
  program
    .command('start')
    .description(
      'run everything a single machine needs: a worker delivering from the store (SQLite ./outbox.db by default). ' +
        'With no upstream configured, mail is captured and kept instead of sent.',
    )
    .action((_opts, command: Command) => runDaemon(command, 'start'))

  program
    .command('worker')
    .description('run a delivery worker only; run as many as you like against one store')
    .action((_opts, command: Command) => runDaemon(command, 'worker'))
}
