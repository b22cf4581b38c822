import type { FastifyInstance } from 'fastify'
import { mkdtempSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildHttpApp } from '../../src/http/app.js'
import type { RouteEntry } from '../../src/http/route-access.js'
import { silentLogger } from '../../src/logger.js'
import { createOutbox, startHttpServer, type Outbox } from '../../src/index.js'

const TOKEN = 'access-test-token-0123456789'

/**
 * The only routes anyone may call without the token. Adding a public route means adding it
 * here, on purpose: the walk below fails for any other route that answers without a token.
 */
const PUBLIC_ROUTES = new Set([
  'GET /api/openapi.json',
  'HEAD /api/openapi.json',
  'GET /api/session',
  'HEAD /api/session',
  'POST /api/session',
  'DELETE /api/session',
  'GET /vendor/uplot.js',
  'HEAD /vendor/uplot.js',
  'GET /vendor/uplot.css',
  'HEAD /vendor/uplot.css',
  'GET /*',
  'HEAD /*',
])

/** Sends a request with the path exactly as written (fetch() would normalise it). */
function send(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const url = new URL(base)
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers: method === 'POST' ? { 'content-type': 'application/json', ...headers } : headers,
      },
      (res) => {
        // A live event stream never ends: its status is the answer.
        if (String(res.headers['content-type']).startsWith('text/event-stream')) {
          res.destroy()
          return resolve({ status: res.statusCode!, body: '' })
        }
        let body = ''
        res.setEncoding('latin1')
        res.on('data', (d: string) => (body += d))
        res.on('end', () => resolve({ status: res.statusCode!, body }))
      },
    )
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path}: no answer in 10 s`)))
    req.on('error', reject)
    req.end(method === 'POST' ? JSON.stringify({ ids: ['x'] }) : undefined)
  })
}

/** A route's URL with its parameters filled in so that, if access let it through, it would work. */
function concrete(route: RouteEntry, id: string): string {
  return route.url.replace(':id', id).replace(':index', '0').replace(':action', 'hold')
}

/**
 * The ways a path was written to slip past a check made on the raw URL: percent-encoded
 * letters (once and twice), case, doubled and dot segments, an encoded slash, matrix
 * parameters and trailing junk.
 */
function disguises(path: string): string[] {
  const [, first = '', rest = ''] = /^\/([^/]+)(.*)$/.exec(path) ?? []
  const hex = (c: string) => c.charCodeAt(0).toString(16)
  return [
    `/%${hex(first[0]!)}${first.slice(1)}${rest}`,
    `/%25${hex(first[0]!)}${first.slice(1)}${rest}`,
    `/${first.toUpperCase()}${rest}`,
    `//${first}${rest}`,
    `/./${first}${rest}`,
    `/${first}/../${first}${rest}`,
    rest ? `/${first}%2F${rest.slice(1)}` : `/${first}%2F`,
    `${path};x`,
    `/${first};x${rest}`,
    `${path}%20`,
    `/${[...first].map((c) => `%${hex(c)}`).join('')}${rest}`,
  ]
}

describe('HTTP access control decides on the route the router matched', () => {
  const dir = mkdtempSync(join(tmpdir(), 'outbox-access-'))
  let outbox: Outbox
  let id: string
  const servers: { app: FastifyInstance; routes: () => RouteEntry[]; url: string }[] = []

  async function serve(token: string | null) {
    const built = await buildHttpApp(outbox, {
      policy: { token, allowedHosts: new Set(['localhost', '127.0.0.1', '::1']) },
      logger: silentLogger,
      upstream: { label: 'capture', capture: true },
      workerInProcess: false,
      bodyLimit: 1024 * 1024,
    })
    await built.app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = built.app.server.address() as AddressInfo
    const server = { ...built, url: `http://127.0.0.1:${port}` }
    servers.push(server)
    return server
  }

  beforeAll(async () => {
    outbox = await createOutbox({ store: `sqlite:${join(dir, 'q.db')}` })
    ;({ id } = await outbox.send({
      from: 'shop@example.com',
      to: 'ann@example.com',
      subject: 'Secret receipt',
      text: 'card ending 4242',
    }))
  })
  afterAll(async () => {
    for (const s of servers) await s.app.close()
    await outbox.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('lets no route answer without the token unless it is listed as public', async () => {
    const server = await serve(TOKEN)
    const routes = server.routes()
    expect(routes.length).toBeGreaterThan(15)
    const open = routes.filter((r) => r.access !== 'admin').map((r) => `${r.method} ${r.url}`)
    expect(new Set(open)).toEqual(PUBLIC_ROUTES)
    for (const route of routes.filter((r) => r.access === 'admin')) {
      const path = concrete(route, id)
      const res = await send(server.url, route.method, path)
      expect(res.status, `${route.method} ${path}`).toBe(401)
      // With the token the request is let through (so the 401 above is the guard); an unknown
      // id keeps the message unchanged.
      const allowed = await send(server.url, route.method, concrete(route, 'no-such-id'), {
        authorization: `Bearer ${TOKEN}`,
      })
      expect(allowed.status, `${route.method} ${path} with the token`).not.toBe(401)
    }
  })

  it('refuses every disguised spelling of a protected path without the token', async () => {
    const server = await serve(TOKEN)
    const routes = server.routes().filter((r) => r.access === 'admin')
    let tried = 0
    for (const route of routes) {
      for (const path of disguises(concrete(route, id))) {
        const res = await send(server.url, route.method, path, { origin: 'http://evil.com' })
        tried++
        expect([401, 403, 404], `${route.method} ${path} → ${res.status}`).toContain(res.status)
        expect(res.body).not.toContain('Secret receipt')
        expect(res.body).not.toContain('4242')
      }
    }
    expect(tried).toBeGreaterThan(150)
    // Nothing was queued or changed by any of them.
    expect(await outbox.admin.countByStatus()).toMatchObject({ queued: 1, held: 0 })
  })

  it('holds a tokenless loopback server to its Host names whatever the spelling', async () => {
    const server = await serve(null)
    const routes = server.routes().filter((r) => r.access === 'admin')
    for (const route of routes) {
      const path = concrete(route, id)
      for (const spelled of [path, ...disguises(path)]) {
        const res = await send(server.url, route.method, spelled, { host: 'evil.com' })
        expect([403, 404], `${route.method} ${spelled} → ${res.status}`).toContain(res.status)
        expect(res.body).not.toContain('Secret receipt')
      }
    }
    // The same server answers its own names.
    expect((await send(server.url, 'GET', '/%61pi/stats')).status).toBe(200)
    expect(await outbox.admin.countByStatus()).toMatchObject({ queued: 1, held: 0 })
  })
})

describe('the bypasses first reported, through startHttpServer', () => {
  it('are all refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outbox-access-'))
    const outbox = await createOutbox({ store: `sqlite:${join(dir, 'q.db')}` })
    const withToken = await startHttpServer(outbox, { listen: '127.0.0.1:0', adminToken: TOKEN })
    const open = await startHttpServer(outbox, { listen: '127.0.0.1:0' })
    try {
      const { id } = await outbox.send({ from: 'a@example.com', to: 'b@example.com', text: 'x' })
      const queue = await send(withToken.url, 'POST', '/%61pi/messages')
      expect(queue.status).toBe(401)
      expect((await send(withToken.url, 'GET', `/%61pi/messages/${id}/raw`)).status).toBe(401)
      const del = await send(withToken.url, 'POST', '/%61pi/bulk/delete', {
        origin: 'http://evil.com',
      })
      expect(del.status).toBe(401)
      expect((await send(withToken.url, 'GET', '/%6detrics')).status).toBe(401)
      expect((await send(open.url, 'GET', '/%61pi/stats', { host: 'evil.com' })).status).toBe(403)
      expect(await outbox.admin.countByStatus()).toMatchObject({ queued: 1 })
    } finally {
      await withToken.close()
      await open.close()
      await outbox.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
