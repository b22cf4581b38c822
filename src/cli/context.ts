import { pino, type Logger as PinoLogger } from 'pino'
import type { Command } from 'commander'
import { loadConfig, type MergedConfig } from '../config/config-sources.js'
import { CONFIG_KEYS, type OutboxConfig } from '../config/config-schema.js'
import { MessageNotFoundError, OutboxError } from '../errors.js'
import type { OutboxOptions } from '../config/outbox-options.js'
import { createOutbox, type Outbox } from '../outbox.js'
import { openLogFile } from '../logging/log-file.js'
import { openStore } from '../store/open-store.js'
import type { Store } from '../store/store.js'
import { printError } from './terminal.js'
import { hideWebhookValue } from './webhook-redaction.js'

/** Exit codes of the `outbox` command. */
export const EXIT = {
  ok: 0,
  /** The command ran and something failed (a message failed, an id was not found, the store is down). */
  failed: 1,
  /** Bad usage or configuration: nothing was done. */
  usage: 2,
} as const

/** Thrown to end a command with a message on stderr and an exit code. */
export class CliExit extends Error {
  constructor(
    readonly exitCode: number,
    message = '',
  ) {
    super(message)
  }
}

/** Each configuration key by the name Commander gives its flag (`--max-age` → `maxAge`). */
const FLAG_KEYS = Object.fromEntries(
  (Object.keys(CONFIG_KEYS) as (keyof OutboxConfig)[]).map((key) => [
    CONFIG_KEYS[key].flag
      .slice(2)
      .replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase()),
    key,
  ]),
)

/** Where a command's configuration comes from: what {@link loadConfig} reads. */
export type ConfigSources = Parameters<typeof loadConfig>[0]

/**
 * A command's configuration sources, fixed now: the flags, a copy of the environment and the
 * working directory, so that a daemon reloading its config (SIGHUP) reads the same file and
 * merges it with what it started with.
 */
export function commandConfigSources(command: Command): ConfigSources {
  const opts = command.optsWithGlobals<Record<string, string | undefined>>()
  const flags: Partial<Record<keyof OutboxConfig, string>> = {}
  for (const [flag, key] of Object.entries(FLAG_KEYS)) {
    if (opts[flag] !== undefined) flags[key] = opts[flag]
  }
  return {
    ...(opts.config !== undefined ? { configPath: opts.config } : {}),
    env: { ...process.env },
    flags,
    cwd: process.cwd(),
  }
}

/** Reads the configuration for a command; stops with exit code 2 and one line per problem. */
export function commandConfig(
  command: Command,
  sources: ConfigSources = commandConfigSources(command),
): MergedConfig {
  const merged = loadConfig(sources)
  if (merged.problems.length > 0) {
    throw new CliExit(
      EXIT.usage,
      `invalid configuration:\n${merged.problems.map((p) => `  ${hideWebhookValue(p)}`).join('\n')}`,
    )
  }
  return merged
}

/** A command's logger, and how to write out what it still holds before the process ends. */
export interface CliLog {
  logger: PinoLogger
  /** Writes the lines still buffered (a log file's) and closes the file. Never rejects. */
  close(): Promise<void>
}

/**
 * The logger of long-running commands: JSON lines, readable when stdout is a terminal.
 * One-shot commands log to stderr so their stdout stays clean for scripts. With `log.file`,
 * every command logs JSON lines to that file instead, rotated by size. Throws `ConfigError`
 * (exit 2) if the file cannot be opened.
 */
export function openCliLog(config: OutboxConfig, destination: 'stdout' | 'stderr'): CliLog {
  if (config.logFile !== null) {
    const path = config.logFile
    const file = openLogFile({
      path,
      maxSize: config.logMaxSize,
      maxFiles: config.logMaxFiles,
      key: CONFIG_KEYS.logFile.file,
      onError: (error) =>
        printError(`cannot write ${CONFIG_KEYS.logFile.file} ${path}: ${error.message}`),
    })
    return { logger: pino({ level: config.logLevel }, file.stream), close: () => file.close() }
  }
  const fd = destination === 'stdout' ? 1 : 2
  const tty = destination === 'stdout' ? process.stdout.isTTY : process.stderr.isTTY
  const logger = tty
    ? pino({
        level: config.logLevel,
        transport: {
          target: 'pino-pretty',
          options: { destination: fd, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' },
        },
      })
    : pino({ level: config.logLevel }, pino.destination({ fd, sync: true }))
  return {
    logger,
    close() {
      logger.flush()
      return Promise.resolve()
    },
  }
}

/**
 * {@link openCliLog}'s logger alone, for one-shot commands: Node writes a log file's last
 * lines before it exits by running out of work (not when an error ends the command through
 * `process.exit()`).
 */
export function createCliLogger(
  config: OutboxConfig,
  destination: 'stdout' | 'stderr',
): PinoLogger {
  return openCliLog(config, destination).logger
}

/** Whether a command may create the queue its store URL names, or needs an existing one. */
export type IfMissing = 'create' | 'refuse'

/**
 * Opens the Outbox a command works on. With `ifMissing: 'refuse'` a store URL that names no
 * queue (a typo in a path or schema) is an error (exit 2) instead of a new, empty queue.
 */
export async function openOutbox(
  config: OutboxConfig,
  logger?: PinoLogger,
  ifMissing: IfMissing = 'create',
): Promise<Outbox> {
  if (ifMissing === 'create') return createOutbox(outboxOptions(config, config.store, logger))
  const store = await openStore(config.store, { ifMissing, ...(logger ? { logger } : {}) })
  let outbox: Outbox
  try {
    outbox = await createOutbox(outboxOptions(config, store, logger))
  } catch (error) {
    await store.close()
    throw error
  }
  // The store was opened here, so it is closed here too.
  return {
    ...outbox,
    async close() {
      await outbox.close()
      await store.close()
    },
  }
}

/** The options of `createOutbox()` a configuration stands for. */
export function outboxOptions(
  config: OutboxConfig,
  store: string | Store,
  logger: PinoLogger | undefined,
): OutboxOptions {
  return {
    store,
    upstream: config.upstream,
    concurrency: config.concurrency,
    upstreamConnection: {
      maxMessages: config.upstreamMaxMessagesPerConnection,
      maxAge: config.upstreamMaxConnectionAgeMs,
    },
    maxAge: config.maxAgeMs,
    maxMessageSize: config.maxMessageSize,
    leaseDuration: config.leaseMs,
    retry: { initialDelay: config.retryInitialDelayMs, maxDelay: config.retryMaxDelayMs },
    rateLimit: config.rateLimit,
    ...(config.upstreams ? { upstreams: config.upstreams as OutboxOptions['upstreams'] } : {}),
    ...(config.routes ? { routes: config.routes as OutboxOptions['routes'] } : {}),
    ...(config.domainLimits
      ? { domainLimits: config.domainLimits as OutboxOptions['domainLimits'] }
      : {}),
    ...(config.dkim ? { dkim: config.dkim as OutboxOptions['dkim'] } : {}),
    ...(config.webhooks ? { webhooks: config.webhooks as OutboxOptions['webhooks'] } : {}),
    events: { maxAge: config.eventsMaxAgeMs },
    templates: {
      defaultLanguage: config.templatesDefaultLanguage,
      from: config.templatesFrom,
      inlineCss: config.templatesInlineCss,
    },
    ...(config.bouncesDomain || config.bouncesSecret
      ? { bounces: { domain: config.bouncesDomain ?? '', secret: config.bouncesSecret ?? '' } }
      : {}),
    ...(logger ? { logger } : {}),
  }
}

/**
 * Runs a one-shot command against the configured Outbox, closing it afterwards. Commands
 * work on an existing queue unless they say they may create one.
 */
export async function withOutbox<T>(
  command: Command,
  run: (outbox: Outbox, merged: MergedConfig) => Promise<T>,
  ifMissing: IfMissing = 'refuse',
): Promise<T> {
  const merged = commandConfig(command)
  const outbox = await openOutbox(merged.config, undefined, ifMissing)
  try {
    return await run(outbox, merged)
  } finally {
    await outbox.close()
  }
}

/** Turns an error into the line printed on stderr and the exit code. */
export function describeFailure(error: unknown): { message: string; exitCode: number } {
  if (error instanceof CliExit) return { message: error.message, exitCode: error.exitCode }
  if (error instanceof MessageNotFoundError)
    return { message: error.message, exitCode: EXIT.failed }
  if (error instanceof OutboxError) {
    // A damaged or foreign database file is the configuration's problem too: nothing was done.
    const usage =
      error.code === 'OUTBOX_INVALID_CONFIG' ||
      error.code === 'OUTBOX_INVALID_MESSAGE' ||
      error.code === 'OUTBOX_TEMPLATE_NOT_FOUND' ||
      error.code === 'OUTBOX_TEMPLATE_SYNTAX' ||
      error.code === 'OUTBOX_TEMPLATE_RENDER' ||
      error.code === 'OUTBOX_STORE_DAMAGED'
    return { message: error.message, exitCode: usage ? EXIT.usage : EXIT.failed }
  }
  return { message: (error as Error)?.stack ?? String(error), exitCode: EXIT.failed }
}
