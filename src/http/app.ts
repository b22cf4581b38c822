import fastifyStatic from '@fastify/static'
import Fastify, { type FastifyInstance } from 'fastify'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { ErrorCodes, OutboxError } from '../errors.js'
import type { Logger } from '../logger.js'
import { createOutboxMetrics } from '../metrics/metrics.js'
import type { Outbox } from '../outbox.js'
import type { AccessPolicy } from './access.js'
import { createDepthHistory } from './depth-history.js'
import { createErrorHandler } from './http-errors.js'
import { openApiDocument } from './openapi.js'
import { registerEventLogRoutes } from './routes/event-log.js'
import { registerLiveEvents } from './routes/live-events.js'
import { registerMessageRoutes } from './routes/messages.js'
import { registerOverviewRoutes, type UpstreamInfo } from './routes/overview.js'
import { registerSessionRoutes } from './routes/session.js'
import { registerSuppressionRoutes } from './routes/suppressions.js'
import { registerTemplateRoutes } from './routes/templates.js'
import { registerWebhookRoutes } from './routes/webhooks.js'
import { installRouteAccess, registerPublic, type RouteEntry } from './route-access.js'

/** What the HTTP app is built from. */
export interface HttpAppOptions {
  policy: AccessPolicy
  logger: Logger
  upstream: UpstreamInfo
  /** Whether a worker runs in this process (then the upstream's live state is known here). */
  workerInProcess: boolean
  /** Largest request body, in bytes (a message with base64 attachments). */
  bodyLimit: number
  /** Queue-depth sampling for the chart. @default every 30 s, kept 6 h */
  depthSampleMs?: number
}

/** The dashboard's files: next to this module's folder, in `src/` and in `dist/` alike. */
const DASHBOARD_DIR = fileURLToPath(new URL('../dashboard/', import.meta.url))

/** The dashboard page may only load its own scripts and styles, and frame only message bodies. */
const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

/** Builds (does not start) the HTTP API, dashboard and metrics over one Outbox. */
export async function buildHttpApp(
  outbox: Outbox,
  options: HttpAppOptions,
): Promise<{ app: FastifyInstance; routes: () => RouteEntry[] }> {
  const app = Fastify({ logger: false, bodyLimit: options.bodyLimit, return503OnClosing: true })
  const metrics = createOutboxMetrics(outbox)
  const depth = createDepthHistory(outbox.admin, {
    intervalMs: options.depthSampleMs ?? 30_000,
    keepMs: 6 * 3_600_000,
    logger: options.logger,
  })
  app.addHook('onClose', async () => {
    metrics.close()
    depth.close()
  })

  app.setErrorHandler(createErrorHandler(options.logger))
  app.setNotFoundHandler((request, reply) => {
    const error = new OutboxError(
      ErrorCodes.NOT_FOUND,
      `No route ${request.method} ${request.url.split('?')[0]}.`,
    )
    return reply.status(404).send({ error: { code: error.code, message: error.message } })
  })

  // Every route requires the admin token unless it says otherwise (`config.access`).
  const routes = installRouteAccess(app, options.policy)

  app.get('/api/openapi.json', { config: { access: 'public' } }, async () => openApiDocument())
  registerSessionRoutes(app, options.policy)
  registerMessageRoutes(app, outbox)
  registerOverviewRoutes(app, outbox, {
    upstream: options.upstream,
    depth: () => depth.samples(),
    workerInProcess: () => options.workerInProcess,
  })
  registerSuppressionRoutes(app, outbox)
  registerTemplateRoutes(app, outbox)
  registerWebhookRoutes(app, outbox)
  registerEventLogRoutes(app, outbox)
  registerLiveEvents(app, outbox, options.logger)

  app.get('/metrics', async (_request, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.render())
  })

  // The chart library, served from its npm package: nothing is fetched from a CDN.
  const require = createRequire(import.meta.url)
  const vendor = {
    'uplot.js': ['uplot/dist/uPlot.iife.min.js', 'text/javascript'],
    'uplot.css': ['uplot/dist/uPlot.min.css', 'text/css'],
  } as const
  for (const [name, [module, type]] of Object.entries(vendor)) {
    const content = readFileSync(require.resolve(module))
    app.get(`/vendor/${name}`, { config: { access: 'public' } }, async (_request, reply) =>
      reply.type(type).header('cache-control', 'public, max-age=86400').send(content),
    )
  }

  // The dashboard's own files hold no queue data: anyone may load the page (and sign in).
  await registerPublic(app, async (scope) => {
    await scope.register(fastifyStatic, {
      root: DASHBOARD_DIR,
      prefix: '/',
      index: 'index.html',
      setHeaders(res) {
        res.setHeader('content-security-policy', DASHBOARD_CSP)
        res.setHeader('x-frame-options', 'DENY')
      },
    })
  })
  return { app, routes }
}
