import { isDeepStrictEqual } from 'node:util'
import type { Logger as PinoLogger } from 'pino'
import { loadConfig } from '../config/config-sources.js'
import { CONFIG_KEYS, type OutboxConfig } from '../config/config-schema.js'
import { resolveOutboxOptions } from '../config/outbox-options.js'
import { ConfigError } from '../errors.js'
import type { RoutingUpdate } from '../delivery/routing-update.js'
import type { Outbox } from '../outbox.js'
import { outboxOptions, type ConfigSources } from './context.js'
import { hideWebhookValue } from './webhook-redaction.js'

/**
 * Reloading a daemon's configuration on SIGHUP (`systemctl reload`, `kill -HUP`). Only what can
 * change under running workers is applied: the log level, rate limits, routes and domain
 * limits (see Outbox.reconfigure). Everything else (the store, listen addresses, upstream
 * definitions, concurrency, …) is held by open sockets, pools or files made at start; a change
 * to it is named in a warning and waits for a restart. A config that would not start is
 * refused whole, and the process goes on as it was.
 */

type Key = keyof OutboxConfig

/** Applied while running; every other key needs a restart. `upstreams` only in part (their rate limits). */
const LIVE_KEYS = new Set<Key>(['logLevel', 'rateLimit', 'upstreams', 'routes', 'domainLimits'])

export interface ReloadTarget {
  /** The sources the process started with: the same file, environment and flags. */
  sources: ConfigSources
  /** The configuration the process started with. */
  started: OutboxConfig
  outbox: Outbox
  logger: PinoLogger
}

/** What a reload did, for the log and the tests. */
export type ReloadOutcome =
  | { applied: false; problems: string[] }
  | { applied: true; changed: string[]; needsRestart: string[] }

/** Everything that keeps the new configuration from starting: the checks of `outbox start`. */
function problemsOf(config: OutboxConfig, problems: string[]): string[] {
  if (problems.length > 0) return problems
  try {
    // As createOutbox() checks them: DKIM keys read, webhooks and bounces validated.
    resolveOutboxOptions(outboxOptions(config, config.store, undefined))
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems]
    throw error
  }
  return []
}

/** Re-reads the configuration and applies what can change while running. Never throws. */
export function reloadConfig(target: ReloadTarget): ReloadOutcome {
  const { logger, outbox } = target
  const refuse = (problems: string[]): ReloadOutcome => {
    const shown = problems.map((p) => hideWebhookValue(p))
    logger.error(
      { problems: shown },
      `config reload refused: ${shown.join('; ')}; keeping the running configuration`,
    )
    return { applied: false, problems: shown }
  }
  let next: OutboxConfig
  let result: ReturnType<Outbox['reconfigure']>
  try {
    const merged = loadConfig(target.sources)
    const problems = problemsOf(merged.config, merged.problems)
    if (problems.length > 0) return refuse(problems)
    next = merged.config
    // As written in the file (valid, as checked above); reconfigure() checks them against the
    // upstreams running, and applies them or nothing.
    result = outbox.reconfigure({
      rateLimit: next.rateLimit,
      upstreams: (next.upstreams ?? {}) as RoutingUpdate['upstreams'],
      routes: (next.routes ?? []) as RoutingUpdate['routes'],
      domainLimits: (next.domainLimits ?? {}) as RoutingUpdate['domainLimits'],
    })
  } catch (error) {
    return refuse(error instanceof ConfigError ? [...error.problems] : [(error as Error).message])
  }

  // Compared with the configuration started with: a change waiting for a restart is named on
  // every reload until then.
  const needsRestart = (Object.keys(CONFIG_KEYS) as Key[])
    .filter((key) => !LIVE_KEYS.has(key) && !isDeepStrictEqual(next[key], target.started[key]))
    .map((key) => CONFIG_KEYS[key].file)
    .concat(result.needsRestart)
  const changed = result.changed.map((c) => (c === 'routes' ? 'routes changed' : c))
  // The logger holds the running level: set at start, and by each reload.
  if (next.logLevel !== logger.level) {
    changed.unshift(`${CONFIG_KEYS.logLevel.file} ${logger.level}→${next.logLevel}`)
  }
  const line = `config reloaded: ${changed.length > 0 ? changed.join(', ') : 'nothing new to apply'}`
  // Logged while the level lets info lines out: before the change if the old level does
  // (going to warn), else after it (coming from warn).
  const logged = logger.isLevelEnabled('info')
  if (logged) logger.info({ changed }, line)
  logger.level = next.logLevel
  if (!logged) logger.info({ changed }, line)
  if (needsRestart.length > 0) {
    logger.warn({ needsRestart }, `${needsRestart.join(', ')} changed; restart to apply`)
  }
  return { applied: true, changed, needsRestart }
}

/** {@link listenForHangup}'s handle. */
export interface HangupListener {
  /** The daemon is up: reload on each SIGHUP from now on, and now if one came while starting. */
  ready(target: ReloadTarget): void
  /** The daemon is stopping: SIGHUPs are ignored from now on (not left to end the process). */
  stop(): void
}

/**
 * Listens for SIGHUP from the start of a daemon: without a listener, Node ends the process on
 * one, so a `systemctl reload` while it starts or stops would kill it. A reload runs from start
 * to end in one go (the file is read synchronously), so two signals never interleave.
 */
export function listenForHangup(): HangupListener {
  let target: ReloadTarget | null = null
  let pending = false
  let stopped = false
  process.on('SIGHUP', () => {
    if (stopped) return
    if (target) reloadConfig(target)
    else pending = true
  })
  return {
    ready(ready) {
      target = ready
      if (pending && !stopped) reloadConfig(ready)
    },
    stop() {
      stopped = true
    },
  }
}
