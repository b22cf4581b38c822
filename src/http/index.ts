/**
 * `outbox/http`: the HTTP API, dashboard and Prometheus metrics, as a subpath of its own so
 * that `import 'outbox'` does not load Fastify, prom-client or a MIME parser.
 *
 * @example
 * import { startHttpServer } from 'outbox/http'
 * const server = await startHttpServer(outbox, { listen: '127.0.0.1:8025' })
 */
export { startHttpServer } from './http-server.js'
export type { HttpServer, HttpServerOptions } from './http-server.js'
export type { UpstreamInfo } from './routes/overview.js'
