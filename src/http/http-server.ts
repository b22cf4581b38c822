import type { AddressInfo } from 'node:net'
import { hostPort, isLoopbackHost, parseListenAddress } from '../config/listen-address.js'
import { ConfigError } from '../errors.js'
import type { Logger } from '../logger.js'
import { silentLogger } from '../logger.js'
import type { Outbox } from '../outbox.js'
import { buildHttpApp } from './app.js'
import type { UpstreamInfo } from './routes/overview.js'

/** Options of {@link startHttpServer}. */
export interface HttpServerOptions {
  /** `host:port` to bind. @default '127.0.0.1:8025' */
  listen?: string
  /**
   * The admin token clients send as `Authorization: Bearer <token>` (and the dashboard asks
   * for). Required unless the server listens on loopback only.
   */
  adminToken?: string | null
  logger?: Logger
  /** How the dashboard names the upstream (never with a password). @default unknown */
  upstream?: UpstreamInfo
  /** Whether this process runs a worker (the dashboard then shows the upstream's live state). */
  workerInProcess?: boolean
  /** Largest request body in bytes. @default 50 MiB */
  bodyLimit?: number
  /** Queue-depth sampling interval for the chart, in ms. @default 30_000 */
  depthSampleMs?: number
}

/** A running HTTP server. */
export interface HttpServer {
  /** Base URL, e.g. `http://127.0.0.1:8025` (the real port when 0 was asked). */
  readonly url: string
  close(): Promise<void>
}

const MIN_TOKEN_LENGTH = 16

/**
 * Serves the JSON API (`/api/…`), the dashboard (`/`) and Prometheus metrics (`/metrics`) for
 * an Outbox. Refuses to listen beyond loopback without an admin token.
 */
export async function startHttpServer(
  outbox: Outbox,
  options: HttpServerOptions = {},
): Promise<HttpServer> {
  const listen = options.listen ?? '127.0.0.1:8025'
  const { host, port } = parseListenAddress(listen, 'http.listen')
  const token = options.adminToken ?? null
  if (token !== null && token.length < MIN_TOKEN_LENGTH) {
    throw new ConfigError(
      'http.adminToken',
      `The admin token must be at least ${MIN_TOKEN_LENGTH} characters; generate one with \`openssl rand -hex 24\`.`,
    )
  }
  if (token === null && !isLoopbackHost(host)) {
    throw new ConfigError(
      'http.adminToken',
      `Refusing to serve the HTTP API on ${listen} without an admin token: anyone who can reach it ` +
        'could read and send mail. Set OUTBOX_ADMIN_TOKEN (e.g. `openssl rand -hex 24`), or listen on 127.0.0.1.',
    )
  }
  const { app } = await buildHttpApp(outbox, {
    policy: { token, allowedHosts: new Set(['localhost', '127.0.0.1', '::1', host.toLowerCase()]) },
    logger: options.logger ?? silentLogger,
    upstream: options.upstream ?? { label: 'unknown', capture: false },
    workerInProcess: options.workerInProcess ?? false,
    bodyLimit: options.bodyLimit ?? 50 * 1024 * 1024,
    ...(options.depthSampleMs ? { depthSampleMs: options.depthSampleMs } : {}),
  })
  try {
    await app.listen({ host, port })
  } catch (error) {
    await app.close()
    throw error
  }
  const address = app.server.address() as AddressInfo
  return {
    url: `http://${hostPort(address.address, address.port)}`,
    close: () => app.close(),
  }
}
