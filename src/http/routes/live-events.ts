import type { FastifyInstance } from 'fastify'
import type { ServerResponse } from 'node:http'
import type { Logger } from '../../logger.js'
import type { Outbox } from '../../outbox.js'
import { createChangeFeed } from '../change-feed.js'

/** Most `change` events per second sent to the browsers: a burst of mail is one refresh. */
const THROTTLE_MS = 500
/** How often the shared follower reads the event log: with the throttle, under a second. */
const POLL_MS = 250
/** Wait before following the log again after it could not be read. */
const RETRY_MS = 5_000
/** A comment line now and then keeps proxies from closing an idle stream. */
const HEARTBEAT_MS = 15_000

/**
 * `GET /api/events`: server-sent events telling the dashboard to refresh at once when any
 * process on the store enqueues or delivers mail (read from the durable event log).
 */
export function registerLiveEvents(app: FastifyInstance, outbox: Outbox, logger: Logger): void {
  const feed = createChangeFeed(outbox, {
    throttleMs: THROTTLE_MS,
    pollMs: POLL_MS,
    retryMs: RETRY_MS,
    logger,
  })
  const open = new Set<ServerResponse>()
  // Streams never end on their own: end them so that closing the server does not wait forever.
  app.addHook('preClose', async () => {
    for (const res of open) res.end()
  })
  // And the follower must be done reading before the caller closes the Outbox.
  app.addHook('onClose', async () => {
    await feed.close()
  })

  // GET only: a HEAD would hijack the socket and never answer.
  app.get('/api/events', { exposeHeadRoute: false }, (request, reply) => {
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      connection: 'keep-alive',
    })
    res.write('retry: 3000\n\n')
    open.add(res)
    const unsubscribe = feed.subscribe(() => res.write(`event: change\ndata: ${Date.now()}\n\n`))
    const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS)
    request.raw.on('close', () => {
      open.delete(res)
      unsubscribe()
      clearInterval(heartbeat)
    })
  })
}
