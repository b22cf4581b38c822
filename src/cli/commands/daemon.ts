import type { Command } from 'commander'
import { ConfigError } from '../../errors.js'
import type { HttpServer } from '../../http/http-server.js'
import { readFileSync } from 'node:fs'
import { CONFIG_KEYS, type OutboxConfig } from '../../config/config-schema.js'
import { redactUrl } from '../../delivery/upstream.js'
import type { SmtpListener } from '../../ingress/smtp-listener.js'
import type { Logger } from '../../logger.js'
import { startFailureLog, type FailureLog } from '../../logging/failure-log.js'
import { openLogFile, type LogFile } from '../../logging/log-file.js'
import type { Outbox } from '../../outbox.js'
import type { Worker } from '../../worker/worker.js'
import {
  CliExit,
  commandConfig,
  commandConfigSources,
  EXIT,
  openCliLog,
  openOutbox,
} from '../context.js'
import { listenForHangup } from '../reload-config.js'

/** Starts the SMTP listener the configuration describes. */
async function startListener(
  outbox: Outbox,
  config: OutboxConfig,
  logger: Logger,
): Promise<SmtpListener> {
  if (!!config.smtpTlsKey !== !!config.smtpTlsCert) {
    throw new CliExit(
      EXIT.usage,
      'invalid configuration:\n  smtp.tlsKey and smtp.tlsCert go together: set both or neither',
    )
  }
  let tls: { key: Buffer; cert: Buffer } | undefined
  if (config.smtpTlsKey && config.smtpTlsCert) {
    try {
      tls = { key: readFileSync(config.smtpTlsKey), cert: readFileSync(config.smtpTlsCert) }
    } catch (error) {
      throw new CliExit(
        EXIT.usage,
        `cannot read the SMTP TLS key or certificate: ${(error as Error).message}`,
      )
    }
  }
  try {
    // Loaded by the commands that listen only: `outbox list` needs no SMTP or HTTP server.
    const { startSmtpListener } = await import('../../ingress/smtp-listener.js')
    return await startSmtpListener(outbox, {
      listen: config.smtpListen,
      ...(config.smtpTlsListen ? { tlsListen: config.smtpTlsListen } : {}),
      ...(tls ? { tls } : {}),
      allowNetworks: config.smtpAllowNetworks,
      users: config.smtpUsers,
      maxMessageSize: config.maxMessageSize,
      maxRecipients: config.smtpMaxRecipients,
      maxClients: config.smtpMaxClients,
      connectionsPerClient: config.smtpConnectionsPerClient,
      outsideClientShare: config.smtpOutsideClientShare,
      commandTimeoutMs: config.smtpCommandTimeoutMs,
      envelopeTimeoutMs: config.smtpEnvelopeTimeoutMs,
      dataTimeoutMs: config.smtpDataTimeoutMs,
      logger,
    })
  } catch (error) {
    throw new CliExit(
      EXIT.failed,
      `cannot listen for SMTP on ${config.smtpListen}: ${(error as Error).message}`,
    )
  }
}

/** Starts the HTTP API, dashboard and metrics, if the configuration has an address for them. */
async function startHttp(
  outbox: Outbox,
  config: OutboxConfig,
  logger: Logger,
  workerInProcess: boolean,
): Promise<HttpServer | null> {
  if (config.httpListen === null) return null
  try {
    const { startHttpServer } = await import('../../http/http-server.js')
    return await startHttpServer(outbox, {
      listen: config.httpListen,
      adminToken: config.adminToken,
      logger,
      upstream: {
        label: config.upstream === 'capture' ? 'capture' : redactUrl(config.upstream),
        capture: config.upstream === 'capture',
      },
      workerInProcess,
      bodyLimit: Math.ceil(config.maxMessageSize * 1.4) + 65_536,
    })
  } catch (error) {
    if (error instanceof ConfigError) {
      throw new CliExit(EXIT.usage, `invalid configuration:\n  ${error.message}`)
    }
    throw new CliExit(
      EXIT.failed,
      `cannot listen for HTTP on ${config.httpListen}: ${(error as Error).message}`,
    )
  }
}

type DaemonKind = 'start' | 'worker' | 'smtp' | 'dashboard'

/**
 * Runs until SIGTERM/SIGINT: `start` (worker, SMTP listener, HTTP), `worker`, `smtp` (listener
 * only) or `dashboard` (HTTP only). SIGHUP reloads the configuration (reload-config.ts).
 */
async function runDaemon(command: Command, kind: DaemonKind): Promise<void> {
  const hangup = listenForHangup()
  const sources = commandConfigSources(command)
  const { config } = commandConfig(command, sources)
  const log = openCliLog(config, 'stdout')
  const logger = log.logger
  const delivers = kind === 'start' || kind === 'worker'
  let failedFile: LogFile | null = null
  let outbox: Outbox | null = null
  let worker: Worker | null = null
  let failureLog: FailureLog | null = null
  let listener: SmtpListener | null = null
  let http: HttpServer | null = null
  try {
    // Only a process that delivers records failures; the others need no failure log.
    if (delivers && config.logFailedFile !== null) {
      failedFile = openLogFile({
        path: config.logFailedFile,
        maxSize: config.logMaxSize,
        maxFiles: config.logMaxFiles,
        key: CONFIG_KEYS.logFailedFile.file,
        onError: (error) =>
          logger.error({ err: error.message }, `cannot write ${CONFIG_KEYS.logFailedFile.file}`),
      })
    }
    outbox = await openOutbox(config, logger)
    if (failedFile) failureLog = startFailureLog(outbox, failedFile.stream, logger)
    if (delivers) {
      worker = outbox.worker()
      await worker.start()
    }
    if (kind === 'start' || kind === 'smtp') listener = await startListener(outbox, config, logger)
    if (kind === 'start' || kind === 'dashboard') {
      http = await startHttp(outbox, config, logger, kind === 'start')
      if (kind === 'dashboard' && http === null) {
        throw new CliExit(EXIT.usage, 'outbox dashboard needs http.listen (OUTBOX_HTTP_LISTEN)')
      }
    }
  } catch (error) {
    await listener?.close()
    await http?.close()
    await failureLog?.close()
    await outbox?.close()
    await failedFile?.close()
    // main() ends the process with process.exit(): the log's last lines must be out first.
    await log.close()
    throw error
  }
  // Opened for sure past the try; the stop callbacks below cannot see that narrowing.
  const opened = outbox
  const store = redactUrl(config.store)
  const upstream = config.upstream === 'capture' ? 'capture' : redactUrl(config.upstream)
  const named = Object.keys(config.upstreams ?? {})
  const smtp = listener ? `SMTP on ${listener.addresses.join(' and ')}; ` : ''
  const dashboard = http ? `dashboard on ${http.url}; ` : ''
  const where =
    kind === 'smtp' || kind === 'dashboard'
      ? 'workers deliver it'
      : named.length > 0
        ? `delivering through ${named.length + 1} upstreams (default: ${upstream}; ${named.join(', ')}; \`outbox upstreams\` shows them)`
        : upstream === 'capture'
          ? 'no upstream configured, so mail is captured and kept, not sent (set OUTBOX_UPSTREAM=smtp://…)'
          : `delivering to ${upstream}`
  logger.info(
    {
      store,
      upstream,
      concurrency: config.concurrency,
      mode: kind,
      smtp: listener?.addresses ?? [],
      http: http?.url ?? null,
    },
    `outbox ${kind}: ${smtp}${dashboard}queue in ${store}; ${where}`,
  )

  hangup.ready({ sources, started: config, outbox: opened, logger })
  await new Promise<void>((resolve) => {
    let stopping = false
    const stop = (signal: string) => {
      if (stopping) return
      stopping = true
      hangup.stop()
      logger.info({ signal }, 'stopping: finishing sends in progress, giving back the rest')
      // Ends with closing the failure log's file, which never rejects.
      void Promise.all([listener?.close(), http?.close()])
        // The worker first, the store last: the failure log may read it for the last lines.
        .then(() => worker?.stop())
        .then(() => failureLog?.close())
        .then(() => opened.close())
        .catch((error: unknown) =>
          logger.error({ err: (error as Error).message }, 'error while stopping'),
        )
        .then(() => failedFile?.close())
        .finally(resolve)
    }
    process.once('SIGTERM', () => stop('SIGTERM'))
    process.once('SIGINT', () => stop('SIGINT'))
  })
  await log.close()
}

export function registerDaemonCommands(program: Command): void {
  program
    .command('start')
    .description(
      'run everything a single machine needs: a worker delivering from the store (SQLite ./outbox.db by default) ' +
        'the SMTP listener (127.0.0.1:2525) and the dashboard, HTTP API and metrics (http://127.0.0.1:8025). ' +
        'With no upstream configured, mail is captured and kept instead of sent.',
    )
    .action((_opts, command: Command) => runDaemon(command, 'start'))

  program
    .command('worker')
    .description('run a delivery worker only; run as many as you like against one store')
    .action((_opts, command: Command) => runDaemon(command, 'worker'))

  program
    .command('smtp')
    .description(
      'listen for SMTP (smarthost mode) and queue every accepted message; 250 only once it is stored. ' +
        'Without AUTH only the allowed networks (loopback by default) may submit.',
    )
    .action((_opts, command: Command) => runDaemon(command, 'smtp'))

  program
    .command('dashboard')
    .description(
      'serve the web dashboard, the JSON API (/api) and Prometheus metrics (/metrics) on http.listen ' +
        '(127.0.0.1:8025). Beyond loopback it needs OUTBOX_ADMIN_TOKEN.',
    )
    .action((_opts, command: Command) => runDaemon(command, 'dashboard'))
}
