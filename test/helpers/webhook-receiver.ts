import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** One request a {@link WebhookReceiver} got. */
export interface ReceivedRequest {
  headers: IncomingHttpHeaders
  body: string
  /** The events of the body (`data.events`), or none if it did not parse. */
  events: {
    seq: string
    type: string
    id: string
    recipient: string | null
    at: string
    data: Record<string, unknown>
  }[]
  receivedAt: number
  /** The status it was answered with. */
  status: number
}

/** A real HTTP server on 127.0.0.1 receiving webhooks; `answer` decides each status. */
export interface WebhookReceiver {
  readonly url: string
  readonly port: number
  readonly requests: ReceivedRequest[]
  /** Status for the next request (200 unless set); `delayMs` holds the answer back. */
  answer: (request: { body: string }) => { status: number; delayMs?: number }
  /** Stops listening: clients get connection refused until {@link restart}. */
  stop(): Promise<void>
  restart(): Promise<void>
  close(): Promise<void>
}

export async function createWebhookReceiver(): Promise<WebhookReceiver> {
  const requests: ReceivedRequest[] = []
  const pending = new Set<NodeJS.Timeout>()
  let server: Server
  let port = 0
  const receiver: WebhookReceiver = {
    get url() {
      return `http://127.0.0.1:${port}/hooks/outbox`
    },
    get port() {
      return port
    },
    requests,
    answer: () => ({ status: 200 }),
    stop: () => close(),
    restart: () => listen(port),
    close: async () => {
      for (const t of pending) clearTimeout(t)
      await close()
    },
  }
  function handler(
    req: import('node:http').IncomingMessage,
    res: import('node:http').ServerResponse,
  ) {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const { status, delayMs } = receiver.answer({ body })
      let events: ReceivedRequest['events'] = []
      try {
        events = (JSON.parse(body) as { data: { events: ReceivedRequest['events'] } }).data.events
      } catch {
        // Recorded with no events.
      }
      const reply = () => {
        requests.push({ headers: req.headers, body, events, receivedAt: Date.now(), status })
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'no')
      }
      if (!delayMs) return reply()
      const t = setTimeout(() => {
        pending.delete(t)
        // Recorded only if the answer could still be given: a late one is what the test wants.
        reply()
      }, delayMs)
      pending.add(t)
    })
  }
  function listen(at: number): Promise<void> {
    server = createServer(handler)
    // Keep-alive sockets would keep a stopped server reachable: close them with it.
    server.keepAliveTimeout = 1000
    return new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(at, '127.0.0.1', () => {
        port = (server.address() as AddressInfo).port
        resolve()
      })
    })
  }
  function close(): Promise<void> {
    return new Promise((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  }
  await listen(0)
  return receiver
}
