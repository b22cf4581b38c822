#!/usr/bin/env node
import { Command } from 'commander'
import { pino } from 'pino'
import { createOutbox } from '../outbox.js'
import { OutboxError } from '../errors.js'
import { redactUrl } from '../delivery/upstream.js'
import { packageVersion } from '../version.js'

// A first cut of the `outbox` command: `start` runs a worker on the embedded default.
// The operator commands (list, show, retry, …) and layered configuration come next.

function createLogger() {
  const level = process.env.OUTBOX_LOG_LEVEL ?? 'info'
  return process.stdout.isTTY
    ? pino({
        level,
        transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss' } },
      })
    : pino({ level })
}

async function start(): Promise<void> {
  const logger = createLogger()
  const store = process.env.OUTBOX_STORE ?? 'sqlite:./outbox.db'
  const upstream = process.env.OUTBOX_UPSTREAM ?? 'capture'
  const concurrency = process.env.OUTBOX_CONCURRENCY
    ? Number(process.env.OUTBOX_CONCURRENCY)
    : undefined
  const outbox = await createOutbox({
    store,
    upstream,
    logger,
    ...(concurrency ? { concurrency } : {}),
  })
  const worker = outbox.worker()
  await worker.start()
  logger.info(
    { store: redactUrl(store), upstream: upstream === 'capture' ? 'capture' : redactUrl(upstream) },
    upstream === 'capture'
      ? `outbox started: queue in ${store}; no upstream configured, so mail is captured, not sent (set OUTBOX_UPSTREAM=smtp://…)`
      : `outbox started: queue in ${redactUrl(store)}, delivering to ${redactUrl(upstream)}`,
  )
  let stopping = false
  const shutdown = (signal: string) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'stopping: finishing sends in progress')
    outbox
      .close()
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        logger.error({ err: (error as Error).message }, 'error while stopping')
        process.exit(1)
      })
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
}

const program = new Command()
program.name('outbox').description('A durable queue for outgoing email.').version(packageVersion())
program
  .command('start')
  .description(
    'Run the all-in-one process: a worker delivering from ./outbox.db (captures mail when no upstream is set)',
  )
  .action(start)

program.parseAsync().catch((error: unknown) => {
  if (error instanceof OutboxError) {
    process.stderr.write(`outbox: ${error.message}\n`)
    process.exit(2)
  }
  process.stderr.write(`outbox: ${(error as Error).stack ?? String(error)}\n`)
  process.exit(1)
})
