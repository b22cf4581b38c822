import type { HttpServer, HttpServerOptions } from './http/http-server.js'
import type { Outbox } from './outbox.js'

/**
 * Serves the HTTP API, dashboard and metrics for an Outbox.
 *
 * @deprecated Import it from `outbox/http` instead; this export, which loads the server only
 * when called, will be removed in the next minor version.
 */
export async function startHttpServer(
  outbox: Outbox,
  options?: HttpServerOptions,
): Promise<HttpServer> {
  const http = await import('./http/http-server.js')
  return http.startHttpServer(outbox, options)
}
