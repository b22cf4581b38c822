/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-explicit-any -- response bodies are JSON of known shape, checked by the assertions */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOutbox, startHttpServer, type HttpServer, type Outbox } from '../../src/index.js'
import { mkdtempSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const dir = mkdtempSync(join(tmpdir(), 'outbox-http-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let dbs = 0
const tempSqlitePath = () => join(dir, `q${++dbs}.db`)

/** fetch() cannot set Host; a browser led by DNS rebinding does. */
function getWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host } }, (res) => {
      res.resume()
      resolve(res.statusCode!)
    })
    req.on('error', reject)
    req.end()
  })
}

const TOKEN = 'test-admin-token-0123456789'

async function call(
  server: HttpServer,
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { ...options.headers }
  if (options.body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  })
  const text = await res.text()
  let json: any = null
  try {
    json = JSON.parse(text)
  } catch {
    json = null
  }
  return { status: res.status, json, text, headers: res.headers }
}

const mail = (subject: string, extra: Record<string, unknown> = {}) => ({
  mail: { from: 'shop@example.com', to: 'ann@example.com', subject, text: 'Hello', ...extra },
})

describe('HTTP API with an admin token', () => {
  let outbox: Outbox
  let server: HttpServer
  const auth = { authorization: `Bearer ${TOKEN}` }

  beforeAll(async () => {
    outbox = await createOutbox({ store: `sqlite:${tempSqlitePath()}` })
    server = await startHttpServer(outbox, { listen: '127.0.0.1:0', adminToken: TOKEN })
  })
  afterAll(async () => {
    await server.close()
    await outbox.close()
  })

  it('refuses requests without the token, or with a wrong one, as JSON errors', async () => {
    const none = await call(server, 'GET', '/api/messages')
    expect(none.status).toBe(401)
    expect(none.json.error.code).toBe('OUTBOX_UNAUTHORIZED')
    expect(none.headers.get('www-authenticate')).toContain('Bearer')
    const wrong = await call(server, 'GET', '/api/stats', {
      headers: { authorization: 'Bearer nope' },
    })
    expect(wrong.status).toBe(401)
    expect((await call(server, 'GET', '/metrics')).status).toBe(401)
    // The dashboard's own files and the API description are public.
    expect((await call(server, 'GET', '/')).status).toBe(200)
    expect((await call(server, 'GET', '/api/openapi.json')).json.openapi).toBe('3.1.0')
  })

  it('enqueues over HTTP, lists, shows, and downloads the raw message', async () => {
    const created = await call(server, 'POST', '/api/messages', {
      headers: auth,
      body: {
        ...mail('Receipt 1', {
          html: '<p>Hi <img src="cid:logo@x"></p>',
          attachments: [
            { filename: 'logo.png', content: 'iVBORw0KGgo=', encoding: 'base64', cid: 'logo@x' },
            { filename: 'a.txt', content: 'aGVsbG8=', encoding: 'base64' },
          ],
        }),
        options: { tags: ['receipt'], idempotencyKey: 'r-1' },
      },
    })
    expect(created.status).toBe(201)
    const id = created.json.id as string
    const again = await call(server, 'POST', '/api/messages', {
      headers: auth,
      body: { ...mail('Receipt 1'), options: { idempotencyKey: 'r-1' } },
    })
    expect(again.status).toBe(200)
    expect(again.json).toMatchObject({ id, duplicate: true })

    const list = await call(server, 'GET', '/api/messages?tag=receipt&status=queued', {
      headers: auth,
    })
    expect(list.json.messages.map((m: { id: string }) => m.id)).toEqual([id])

    const detail = await call(server, 'GET', `/api/messages/${id}`, { headers: auth })
    expect(detail.json).toMatchObject({ id, subject: 'Receipt 1', status: 'queued', hasHtml: true })
    expect(detail.json.headers).toContainEqual({ name: 'Subject', value: 'Receipt 1' })
    expect(detail.json.recipientStatus).toEqual([
      { address: 'ann@example.com', status: 'pending', code: null, reply: null },
    ])
    expect(detail.json.attachments.map((a: { filename: string }) => a.filename)).toContain('a.txt')

    const raw = await call(server, 'GET', `/api/messages/${id}/raw`, { headers: auth })
    expect(raw.headers.get('content-type')).toContain('message/rfc822')
    expect(raw.text).toContain('Subject: Receipt 1')

    const html = await call(server, 'GET', `/api/messages/${id}/html`, { headers: auth })
    expect(html.headers.get('content-security-policy')).toContain('sandbox')
    expect(html.headers.get('content-security-policy')).toContain('img-src data:;')
    expect(html.text).toContain('src="data:image/png;base64,')
    const images = await call(server, 'GET', `/api/messages/${id}/html?images=1`, { headers: auth })
    expect(images.headers.get('content-security-policy')).toContain('img-src data: http: https:')

    const index = detail.json.attachments.find((a: { filename: string }) => a.filename === 'a.txt')
      .index as number
    const file = await call(server, 'GET', `/api/messages/${id}/attachments/${index}`, {
      headers: auth,
    })
    expect(file.text).toBe('hello')
    expect(file.headers.get('content-disposition')).toContain('attachment; filename="a.txt"')
    expect(
      (await call(server, 'GET', `/api/messages/${id}/attachments/9`, { headers: auth })).status,
    ).toBe(404)
  })

  it('validates input and names the field; stores nothing on bad input', async () => {
    const before = (await call(server, 'GET', '/api/stats', { headers: auth })).json.counts.queued
    const badAddress = await call(server, 'POST', '/api/messages', {
      headers: auth,
      body: { mail: { from: 'a@example.com', to: 'not-an-address', text: 'x' } },
    })
    expect(badAddress.status).toBe(400)
    expect(badAddress.json.error).toMatchObject({ code: 'OUTBOX_INVALID_MESSAGE', field: 'to' })
    const file = await call(server, 'POST', '/api/messages', {
      headers: auth,
      body: mail('x', { attachments: [{ path: '/etc/passwd' }] }),
    })
    expect(file.status).toBe(400)
    expect(file.json.error.field).toBe('attachments')
    for (const [attachments, field] of [
      ['x', 'attachments'],
      [[42], 'attachments[0]'],
      [[null], 'attachments[0]'],
    ] as const) {
      const bad = await call(server, 'POST', '/api/messages', {
        headers: auth,
        body: mail('x', { attachments }),
      })
      expect(bad.status).toBe(400)
      expect(bad.json.error).toMatchObject({ code: 'OUTBOX_INVALID_MESSAGE', field })
    }
    const unknown = await call(server, 'POST', '/api/messages', {
      headers: auth,
      body: { ...mail('x'), priority: 'high' },
    })
    expect(unknown.json.error).toMatchObject({ field: 'priority' })
    const badOption = await call(server, 'POST', '/api/messages', {
      headers: auth,
      body: { ...mail('x'), options: { priority: 'urgent' } },
    })
    expect(badOption.json.error.field).toBe('options.priority')
    const malformed = await fetch(`${server.url}/api/messages`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: '{"mail":',
    })
    expect(malformed.status).toBe(400)
    expect((await malformed.json()).error.field).toBe('body')
    const badStatus = await call(server, 'GET', '/api/messages?status=lost', { headers: auth })
    expect(badStatus.json.error).toMatchObject({ field: 'status' })
    const badLimit = await call(server, 'GET', '/api/messages?limit=5000', { headers: auth })
    expect(badLimit.json.error).toMatchObject({ field: 'limit' })
    const emptyFilter = await call(server, 'POST', '/api/bulk/delete', {
      headers: auth,
      body: { filter: {} },
    })
    expect(emptyFilter.json.error).toMatchObject({ field: 'filter' })
    const missing = await call(server, 'GET', '/api/messages/nosuchid', { headers: auth })
    expect(missing.status).toBe(404)
    expect(missing.json.error.code).toBe('OUTBOX_MESSAGE_NOT_FOUND')
    expect((await call(server, 'GET', '/api/stats', { headers: auth })).json.counts.queued).toBe(
      before,
    )
  })

  it('holds, releases, retries and deletes one message and in bulk', async () => {
    const { json } = await call(server, 'POST', '/api/messages', {
      headers: auth,
      body: { ...mail('Action'), options: { tags: ['bulk'] } },
    })
    const id = json.id as string
    expect(
      (await call(server, 'POST', `/api/messages/${id}/hold`, { headers: auth })).json,
    ).toEqual({ changed: [id], unchanged: [], notFound: [] })
    expect(
      (await call(server, 'POST', `/api/messages/${id}/hold`, { headers: auth })).json.unchanged,
    ).toEqual([id])
    expect(
      (await call(server, 'POST', `/api/messages/${id}/release`, { headers: auth })).json.changed,
    ).toEqual([id])
    expect(
      (
        await call(server, 'POST', '/api/bulk/hold', {
          headers: auth,
          body: { filter: { tag: 'bulk' } },
        })
      ).json.changed,
    ).toEqual([id])
    expect(
      (
        await call(server, 'POST', '/api/bulk/release', {
          headers: auth,
          body: { ids: [id, 'ghost'] },
        })
      ).json,
    ).toEqual({ changed: [id], unchanged: [], notFound: ['ghost'] })
    expect(
      (await call(server, 'POST', '/api/messages/ghost/retry', { headers: auth })).status,
    ).toBe(404)
    expect(
      (await call(server, 'POST', '/api/bulk/explode', { headers: auth, body: { ids: [id] } }))
        .status,
    ).toBe(404)
    expect(
      (await call(server, 'DELETE', `/api/messages/${id}`, { headers: auth })).json.changed,
    ).toEqual([id])
    expect((await call(server, 'GET', `/api/messages/${id}`, { headers: auth })).status).toBe(404)
    const purge = await call(server, 'POST', '/api/purge', {
      headers: auth,
      body: { olderThan: '7d' },
    })
    expect(purge.json).toEqual({ deleted: 0 })
  })

  it('signs a browser in with a cookie and refuses cross-site requests (CSRF)', async () => {
    const wrong = await call(server, 'POST', '/api/session', {
      body: { token: 'wrong-token-wrong-token' },
    })
    expect(wrong.status).toBe(401)
    const signIn = await call(server, 'POST', '/api/session', { body: { token: TOKEN } })
    expect(signIn.status).toBe(204)
    const cookie = signIn.headers.get('set-cookie')!
    expect(cookie).toMatch(/HttpOnly/)
    expect(cookie).toMatch(/SameSite=Strict/)
    expect(cookie).not.toContain(TOKEN)
    const session = { cookie: cookie.split(';')[0]! }
    expect((await call(server, 'GET', '/api/stats', { headers: session })).status).toBe(200)
    const host = new URL(server.url).host
    const { json } = await call(server, 'POST', '/api/messages', {
      headers: { ...session, origin: server.url, 'sec-fetch-site': 'same-origin' },
      body: mail('From the dashboard'),
    })
    expect(json.id).toBeTruthy()
    const crossSite = await call(server, 'POST', `/api/messages/${json.id as string}/hold`, {
      headers: { ...session, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
    })
    expect(crossSite.status).toBe(403)
    expect(crossSite.json.error.code).toBe('OUTBOX_FORBIDDEN')
    const otherOrigin = await call(server, 'DELETE', `/api/messages/${json.id as string}`, {
      headers: { ...session, origin: 'https://evil.example', host },
    })
    expect(otherOrigin.status).toBe(403)
    const loginCsrf = await call(server, 'POST', '/api/session', {
      headers: { origin: 'https://evil.example' },
      body: { token: TOKEN },
    })
    expect(loginCsrf.status).toBe(403)
    expect(
      (await call(server, 'GET', `/api/messages/${json.id as string}`, { headers: session })).json
        .status,
    ).toBe('queued')
    // A bearer token is never added by a browser on its own: no CSRF check needed.
    expect(
      (
        await call(server, 'POST', `/api/messages/${json.id as string}/hold`, {
          headers: { ...auth, origin: 'https://ci.example' },
        })
      ).status,
    ).toBe(200)
  })

  it('serves stats with activity and upstream health, Prometheus metrics and live events', async () => {
    await outbox.drain()
    const stats = await call(server, 'GET', '/api/stats?hours=1', { headers: auth })
    expect(stats.json.counts.sent).toBeGreaterThan(0)
    expect(stats.json.activity.bucketMs).toBe(60_000)
    expect(stats.json.activity.buckets.at(-1).sent).toBeGreaterThan(0)
    expect(stats.json.upstream.lastSuccessAt).toBeTruthy()
    expect(Array.isArray(stats.json.depth)).toBe(true)
    expect((await call(server, 'GET', '/api/stats?hours=x', { headers: auth })).status).toBe(400)

    const metrics = await call(server, 'GET', '/metrics', { headers: auth })
    expect(metrics.headers.get('content-type')).toContain('text/plain')
    expect(metrics.text).toMatch(/outbox_messages_enqueued_total\{priority="normal"\} [1-9]/)
    expect(metrics.text).toMatch(
      /outbox_messages_sent_total\{captured="true",upstream="default"\} [1-9]/,
    )
    expect(metrics.text).toContain('outbox_queue_messages{status="held"}')
    expect(metrics.text).toContain('outbox_oldest_waiting_seconds')
    expect(metrics.text).toContain('outbox_delivery_latency_seconds_bucket')

    const controller = new AbortController()
    const res = await fetch(`${server.url}/api/events`, {
      headers: auth,
      signal: controller.signal,
    })
    expect(res.headers.get('content-type')).toContain('text/event-stream')
    const reader = res.body!.getReader()
    await call(server, 'POST', '/api/messages', { headers: auth, body: mail('Live') })
    let seen = ''
    const deadline = Date.now() + 5000
    while (!seen.includes('event: change') && Date.now() < deadline) {
      const { value, done } = await reader.read()
      if (done) break
      seen += new TextDecoder().decode(value)
    }
    controller.abort()
    expect(seen).toContain('event: change')
  })

  it('returns JSON 404 for unknown API routes', async () => {
    const res = await call(server, 'GET', '/api/nothing', { headers: auth })
    expect(res.status).toBe(404)
    expect(res.json.error.code).toBe('OUTBOX_NOT_FOUND')
  })
})

describe('HTTP API without a token', () => {
  it('is open on loopback but refuses unknown host names (DNS rebinding)', async () => {
    const outbox = await createOutbox({ store: `sqlite:${tempSqlitePath()}` })
    const server = await startHttpServer(outbox, { listen: '127.0.0.1:0' })
    try {
      expect((await call(server, 'GET', '/api/stats')).status).toBe(200)
      const port = new URL(server.url).port
      expect(await getWithHost(`${server.url}/api/stats`, `attacker.example:${port}`)).toBe(403)
      expect(await getWithHost(`${server.url}/api/stats`, `localhost:${port}`)).toBe(200)
      expect((await call(server, 'GET', '/api/session')).json).toEqual({
        authRequired: false,
        authenticated: true,
      })
    } finally {
      await server.close()
      await outbox.close()
    }
  })

  it('refuses to listen beyond loopback without a token, and a short token', async () => {
    const outbox = await createOutbox({ store: `sqlite:${tempSqlitePath()}` })
    try {
      await expect(startHttpServer(outbox, { listen: '0.0.0.0:0' })).rejects.toMatchObject({
        code: 'OUTBOX_INVALID_CONFIG',
        key: 'http.adminToken',
      })
      await expect(
        startHttpServer(outbox, { listen: '127.0.0.1:0', adminToken: 'short' }),
      ).rejects.toMatchObject({ key: 'http.adminToken' })
    } finally {
      await outbox.close()
    }
  })
})
