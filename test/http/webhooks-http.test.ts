/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-explicit-any -- response bodies are JSON of known shape, checked by the assertions */
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, request, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createOutbox, startHttpServer, type HttpServer, type Outbox } from '../../src/index.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'
import { tempSqlitePath } from '../helpers/temp.js'

// The webhook routes and the live stream over a real server, a real SQLite store and a real
// HTTP receiver; the stream is fed by another Outbox on the same file (another connection,
// which is what another process is to the store).

const TOKEN = 'webhooks-http-token-0123456789'
const auth = { authorization: `Bearer ${TOKEN}` }
const SECRET = 'a webhook secret of at least 24 characters'

/** A tiny receiver on 127.0.0.1: records each request's events, answers `status`. */
async function startReceiver() {
  const received: { type: string; id: string; recipient: string | null }[] = []
  let status = 200
  const server: Server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => (body += chunk))
    req.on('end', () => {
      if (status < 300) received.push(...JSON.parse(body).data.events)
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'boom')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    answer(code: number) {
      status = code
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

async function call(
  server: HttpServer,
  method: string,
  path: string,
  body?: unknown,
  withAuth = true,
) {
  const headers: Record<string, string> = withAuth ? { ...auth } : {}
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status, json: await res.json() }
}

const mail = (to: string) => ({ from: 'shop@example.com', to, subject: 'Receipt', text: 'Thanks' })

describe('GET /api/webhooks and POST /api/webhooks/retry', () => {
  const dir = mkdtempSync(join(tmpdir(), 'outbox-webhooks-http-'))
  let receiver: Awaited<ReturnType<typeof startReceiver>>
  let sink: SmtpSink
  let outbox: Outbox
  let server: HttpServer

  beforeAll(async () => {
    receiver = await startReceiver()
    sink = await createSmtpSink()
    outbox = await createOutbox({
      store: `sqlite:${join(dir, 'q.db')}`,
      upstream: sink.url,
      webhooks: [{ url: receiver.url, events: ['queued', 'sent'], secret: SECRET, name: 'crm' }],
    })
    server = await startHttpServer(outbox, { listen: '127.0.0.1:0', adminToken: TOKEN })
  })
  afterAll(async () => {
    await server?.close()
    await outbox?.close()
    await sink?.close()
    await receiver?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('shows what the workers delivered to the receiver', async () => {
    const before = await call(server, 'GET', '/api/webhooks')
    expect(before.status).toBe(200)
    expect(before.json.webhooks).toHaveLength(1)
    expect(before.json.webhooks[0]).toMatchObject({ name: 'crm', state: 'new', delivered: 0 })

    const { id } = await outbox.send(mail('ann@example.com'))
    await outbox.drain()
    expect(receiver.received.filter((e) => e.id === id).map((e) => e.type)).toEqual([
      'queued',
      'sent',
    ])

    const after = await call(server, 'GET', '/api/webhooks')
    const crm = after.json.webhooks[0]
    expect(crm).toMatchObject({
      name: 'crm',
      url: receiver.url,
      events: ['queued', 'sent'],
      state: 'ok',
      backlog: 0,
      uncertain: 0,
      lastError: null,
      failed: { batches: 0, events: 0 },
    })
    expect(crm.delivered).toBeGreaterThan(0)
    // Dates as ISO 8601 text.
    expect(crm.lastSuccessAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  })

  it('asks every endpoint, or those named, to send again what they gave up on', async () => {
    expect(await call(server, 'POST', '/api/webhooks/retry', {})).toEqual({
      status: 200,
      json: { asked: 1 },
    })
    expect(await call(server, 'POST', '/api/webhooks/retry', { names: ['crm'] })).toEqual({
      status: 200,
      json: { asked: 1 },
    })
  })

  it('refuses an unknown name with the reason, and a body it does not know', async () => {
    const unknown = await call(server, 'POST', '/api/webhooks/retry', { names: ['nope'] })
    expect(unknown.status).toBe(400)
    expect(unknown.json.error.message).toMatch(/No webhook is named .*"nope"/)
    expect(unknown.json.error.message).toContain('crm')
    const extra = await call(server, 'POST', '/api/webhooks/retry', { name: 'crm' })
    expect(extra.status).toBe(400)
    expect(extra.json.error.field).toBe('name')
  })

  it('needs the admin token', async () => {
    for (const [method, path, body] of [
      ['GET', '/api/webhooks', undefined],
      ['POST', '/api/webhooks/retry', {}],
      ['GET', '/api/event-log', undefined],
    ] as const) {
      const res = await call(server, method, path, body, false)
      expect(res.status, `${method} ${path}`).toBe(401)
    }
  })

  it('pages through the event log for scripts', async () => {
    const first = await call(server, 'GET', '/api/event-log?limit=1')
    expect(first.status).toBe(200)
    expect(first.json.events).toHaveLength(1)
    expect(first.json.events[0].type).toBe('queued')
    const rest = await call(
      server,
      'GET',
      `/api/event-log?after=${encodeURIComponent(first.json.cursor)}&types=sent,failed`,
    )
    expect(rest.json.events.map((e: any) => e.type)).toEqual(['sent'])
    expect(rest.json.events[0].recipient).toBe('ann@example.com')
    const none = await call(server, 'GET', `/api/event-log?after=${rest.json.cursor}`)
    expect(none.json).toEqual({ events: [], cursor: rest.json.cursor })
    const bad = await call(server, 'GET', '/api/event-log?types=sent,nonsense')
    expect(bad.status).toBe(400)
    expect(bad.json.error.field).toBe('types')
    expect((await call(server, 'GET', '/api/event-log?limit=0')).status).toBe(400)
  })

  it('describes the routes in the OpenAPI document', async () => {
    const doc = (await call(server, 'GET', '/api/openapi.json')).json
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/api/webhooks', '/api/webhooks/retry', '/api/event-log']),
    )
  })
})

/** The live stream as a plain HTTP client reads it: the `change` events' arrival times. */
function openStream(url: string) {
  const changes: number[] = []
  let opened!: () => void
  const ready = new Promise<void>((resolve) => (opened = resolve))
  let finished!: () => void
  const ended = new Promise<void>((resolve) => (finished = resolve))
  let response: IncomingMessage | null = null
  const req = request(`${url}/api/events`, { headers: auth }, (res) => {
    response = res
    res.setEncoding('utf8')
    let buffer = ''
    res.on('data', (chunk: string) => {
      buffer += chunk
      if (buffer.includes('retry:')) opened()
      const frames = buffer.split('\n\n')
      buffer = frames.pop()!
      for (const frame of frames) if (frame.includes('event: change')) changes.push(Date.now())
    })
    res.on('end', finished)
  })
  req.on('error', () => {})
  req.end()
  return {
    ready,
    ended,
    changes,
    close() {
      response?.destroy()
      req.destroy()
    },
  }
}

/** Resolves with the time of the first change after `from`; fails after `timeoutMs`. */
async function changeAfter(changes: number[], from: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const found = changes.find((t) => t >= from)
    if (found !== undefined) return found
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`no change event within ${timeoutMs} ms`)
}

describe('GET /api/events', () => {
  let sink: SmtpSink | undefined
  let viewer: Outbox | undefined
  let worker: Outbox | undefined
  let server: HttpServer | undefined
  let stream: ReturnType<typeof openStream> | undefined
  afterEach(async () => {
    stream?.close()
    await server?.close()
    await viewer?.close()
    await worker?.close()
    await sink?.close()
  })

  it('announces within 2 s what another Outbox on the same store delivered', async () => {
    const file = tempSqlitePath()
    sink = await createSmtpSink()
    // The server's Outbox runs no worker: only the log can tell it about the other's work.
    viewer = await createOutbox({ store: `sqlite:${file}` })
    server = await startHttpServer(viewer, { listen: '127.0.0.1:0', adminToken: TOKEN })
    worker = await createOutbox({ store: `sqlite:${file}`, upstream: sink.url })

    stream = openStream(server.url)
    await stream.ready
    const sentAt = Date.now()
    await worker.send(mail('bob@example.com'))
    const queuedSeen = await changeAfter(stream.changes, sentAt, 2000)
    expect(queuedSeen - sentAt).toBeLessThan(2000)

    const drainStart = Math.max(Date.now(), queuedSeen + 1)
    const counts = await worker.drain()
    expect(counts.sent).toBe(1)
    expect(sink.messages).toHaveLength(1)
    const sentSeen = await changeAfter(stream.changes, drainStart, 2000)
    expect(sentSeen - drainStart).toBeLessThan(2000)
    // And the overview the refresh reads agrees.
    const stats = await call(server, 'GET', '/api/stats')
    expect(stats.json.counts.sent).toBe(1)
  })

  it('ends its streams and stops following when the server closes', async () => {
    const file = tempSqlitePath()
    viewer = await createOutbox({ store: `sqlite:${file}` })
    server = await startHttpServer(viewer, { listen: '127.0.0.1:0', adminToken: TOKEN })
    const streams = [openStream(server.url), openStream(server.url)]
    await Promise.all(streams.map((s) => s.ready))
    await server.close()
    server = undefined
    await Promise.all(streams.map((s) => s.ended))
    // Closing the Outbox right after: the follower is no longer reading it.
    await viewer.close()
    viewer = undefined
    for (const s of streams) s.close()
  })
})
