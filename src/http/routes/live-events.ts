import type { FastifyInstance } from 'fastify'
import type { ServerResponse } from 'node:http'
import type { Outbox } from '../../outbox.js'

/** Most `change` events per second sent to one browser: a burst of mail is one refresh. */
const THROTTLE_MS = 500
/** A comment line now and then keeps proxies from closing an idle stream. */
const HEARTBEAT_MS = 15_000

/**
 * `GET /api/events`: server-sent events telling the dashboard to refresh at once when this
 * process enqueues or delivers mail (it also refreshes on a timer for other processes' work).
 */
export function registerLiveEvents(app: FastifyInstance, outbox: Outbox): void {
  const open = new Set<ServerResponse>()
  // Streams never end on their own: end them so that closing the server does not wait forever.
  app.addHook('preClose', async () => {
    for (const res of open) res.end()
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
    let pending: NodeJS.Timeout | null = null
    const unsubscribe = outbox.observe(() => {
      pending ??= setTimeout(() => {
        pending = null
        res.write(`event: change\ndata: ${Date.now()}\n\n`)
      }, THROTTLE_MS)
    })
    const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS)
    request.raw.on('close', () => {
      open.delete(res)
      unsubscribe()
      clearInterval(heartbeat)
      if (pending) clearTimeout(pending)
    })
  })
}
