/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument -- response bodies are JSON of known shape, checked by the assertions */
import { mkdtempSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { buildHttpApp } from '../../src/http/app.js'
import { silentLogger } from '../../src/logger.js'
import { createOutbox, startHttpServer, type HttpServer, type Outbox } from '../../src/index.js'
import { cleanUpBackends, storeBackends } from '../helpers/store-backends.js'

const TOKEN = 'suppress-test-token-0123456789'
const auth = { authorization: `Bearer ${TOKEN}` }
const dir = mkdtempSync(join(tmpdir(), 'outbox-suppress-http-'))
const backends = await storeBackends()
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  await cleanUpBackends()
})

async function call(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { ...options.headers }
  if (options.body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(`${base}${path}`, {
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
  return { status: res.status, json, text }
}

/** fetch() cannot set Host; a browser led by DNS rebinding does. */
function withHost(url: string, method: string, host: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method, headers: { host, 'content-type': 'application/json' } },
      (res) => {
        res.resume()
        resolve(res.statusCode!)
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

describe('/api/suppressions', () => {
  let outbox: Outbox
  let server: HttpServer
  const api = (method: string, path: string, body?: unknown) =>
    call(server.url, method, path, { headers: auth, ...(body === undefined ? {} : { body }) })

  beforeAll(async () => {
    outbox = await createOutbox({ store: `sqlite:${join(dir, 'q.db')}` })
    server = await startHttpServer(outbox, { listen: '127.0.0.1:0', adminToken: TOKEN })
  })
  afterAll(async () => {
    await server.close()
    await outbox.close()
  })
  beforeEach(async () => {
    const all = await outbox.admin.suppressions.list({ limit: 1000 })
    if (all.entries.length > 0)
      await outbox.admin.suppressions.remove(all.entries.map((e) => e.address))
  })

  it('adds, lists with search and paging, and removes', async () => {
    const added = await api('POST', '/api/suppressions', {
      addresses: [
        ' Ann@Example.com',
        'bob+news@example.org',
        'carol@example.net',
        'ann@example.com',
      ],
      reply: 'asked by phone',
    })
    expect(added.status).toBe(200)
    expect(added.json).toEqual({
      added: ['ann@example.com', 'bob+news@example.org', 'carol@example.net'],
      existing: [],
    })
    const again = await api('POST', '/api/suppressions', {
      addresses: ['ANN@example.com'],
      reason: 'bounced',
    })
    expect(again.json).toEqual({ added: [], existing: ['ann@example.com'] })

    const all = await api('GET', '/api/suppressions')
    expect(all.status).toBe(200)
    expect(all.json.total).toBe(3)
    expect(all.json.entries[0]).toEqual({
      address: 'ann@example.com',
      reason: 'manual',
      reply: 'asked by phone',
      messageId: null,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    })
    const found = await api('GET', '/api/suppressions?search=EXAMPLE.ORG')
    expect(found.json.entries.map((e: any) => e.address)).toEqual(['bob+news@example.org'])
    expect(found.json.total).toBe(1)

    const first = await api('GET', '/api/suppressions?limit=2')
    expect(first.json.entries).toHaveLength(2)
    expect(first.json.total).toBe(3)
    const second = await api(
      'GET',
      `/api/suppressions?limit=2&cursor=${encodeURIComponent(first.json.nextCursor)}`,
    )
    expect(second.json.entries.map((e: any) => e.address)).toEqual(['carol@example.net'])
    expect(second.json.nextCursor).toBeNull()

    const one = await api(
      'DELETE',
      `/api/suppressions/${encodeURIComponent('Bob+News@example.org')}`,
    )
    expect(one.status).toBe(200)
    expect(one.json).toEqual({ removed: ['bob+news@example.org'], notFound: [] })
    const gone = await api(
      'DELETE',
      `/api/suppressions/${encodeURIComponent('bob+news@example.org')}`,
    )
    expect(gone.status).toBe(404)
    expect(gone.json.error.code).toBe('OUTBOX_NOT_FOUND')

    const many = await api('DELETE', '/api/suppressions', {
      addresses: ['ann@example.com', 'nobody@example.com'],
    })
    expect(many.json).toEqual({ removed: ['ann@example.com'], notFound: ['nobody@example.com'] })
    expect((await outbox.admin.suppressions.list()).entries.map((e) => e.address)).toEqual([
      'carol@example.net',
    ])
  })

  it('imports CSV text, storing nothing when a line is bad', async () => {
    const csv =
      'address,reason,reply\na@example.com,bounced,"550 5.1.1, gone"\nnot-an-address,,\nb@example.com,,\nc@example.com,spam,\n'
    const bad = await api('POST', '/api/suppressions', { csv })
    expect(bad.status).toBe(400)
    expect(bad.json.error).toMatchObject({ code: 'OUTBOX_INVALID_MESSAGE', field: 'line 3' })
    expect(bad.json.error.problems).toEqual([
      { line: 3, message: expect.stringContaining('"not-an-address" is not an address') },
      { line: 5, message: expect.stringContaining('reason "spam" is not one of') },
    ])
    expect(await outbox.admin.suppressions.count()).toBe(0)

    const skipping = await api('POST', '/api/suppressions', { csv, skipInvalid: true })
    expect(skipping.status).toBe(200)
    expect(skipping.json).toMatchObject({
      records: 4,
      added: 2,
      skipped: [{ line: 3 }, { line: 5 }],
    })
    const entries = (await outbox.admin.suppressions.list()).entries
    expect(entries.map((e) => [e.address, e.reason, e.reply])).toEqual([
      ['a@example.com', 'bounced', '550 5.1.1, gone'],
      ['b@example.com', 'manual', null],
    ])
  })

  it('refuses bad input with the field named, and stores nothing', async () => {
    const cases: [unknown, string][] = [
      [{ addresses: ['ok@example.com', 'no spaces@example.com'] }, 'addresses[1]'],
      [{ addresses: ['ok@example.com'], reason: 'annoying' }, 'reason'],
      [{ addresses: ['ok@example.com'], reply: 'two\nlines' }, 'reply'],
      [{ addresses: [] }, 'addresses'],
      [{ addresses: ['ok@example.com'], csv: 'a@example.com' }, 'body'],
      [{}, 'body'],
      [{ address: 'ok@example.com' }, 'address'],
      [{ addresses: Array.from({ length: 1001 }, (_, i) => `u${i}@example.com`) }, 'addresses'],
    ]
    for (const [body, field] of cases) {
      const res = await api('POST', '/api/suppressions', body)
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400)
      expect(res.json.error.field).toBe(field)
    }
    for (const query of ['limit=0', 'limit=1001', 'limit=ten', 'colour=red']) {
      const res = await api('GET', `/api/suppressions?${query}`)
      expect(res.status, query).toBe(400)
    }
    expect((await api('DELETE', '/api/suppressions', { addresses: [] })).status).toBe(400)
    expect(await outbox.admin.suppressions.count()).toBe(0)
  })

  it('needs the admin token for every route, reading and writing alike', async () => {
    await outbox.admin.suppressions.add(['kept@example.com'])
    const calls: [string, string, unknown][] = [
      ['GET', '/api/suppressions', undefined],
      ['POST', '/api/suppressions', { addresses: ['x@example.com'] }],
      ['POST', '/api/suppressions', { csv: 'x@example.com' }],
      ['DELETE', '/api/suppressions', { addresses: ['kept@example.com'] }],
      ['DELETE', '/api/suppressions/kept%40example.com', undefined],
    ]
    for (const [method, path, body] of calls) {
      const none = await call(server.url, method, path, body === undefined ? {} : { body })
      expect(none.status, `${method} ${path}`).toBe(401)
      expect(none.text).not.toContain('kept@example.com')
      const wrong = await call(server.url, method, path, {
        headers: { authorization: 'Bearer not-the-token' },
        ...(body === undefined ? {} : { body }),
      })
      expect(wrong.status, `${method} ${path} with a wrong token`).toBe(401)
    }
    expect((await outbox.admin.suppressions.list()).entries.map((e) => e.address)).toEqual([
      'kept@example.com',
    ])
  })

  it('is listed in the OpenAPI document', async () => {
    const doc = (await call(server.url, 'GET', '/api/openapi.json')).json
    expect(Object.keys(doc.paths['/api/suppressions'])).toEqual(['get', 'post', 'delete'])
    expect(doc.paths['/api/suppressions/{address}'].delete).toBeDefined()
    expect(
      doc.paths['/api/suppressions'].post.requestBody.content['application/json'].schema.properties,
    ).toHaveProperty('csv')
  })
})

describe('/api/suppressions on a tokenless loopback server', () => {
  it('refuses cross-site writes and unknown host names, and registers every route as admin', async () => {
    const outbox = await createOutbox({ store: `sqlite:${join(dir, 'open.db')}` })
    const built = await buildHttpApp(outbox, {
      policy: { token: null, allowedHosts: new Set(['localhost', '127.0.0.1', '::1']) },
      logger: silentLogger,
      upstream: { label: 'capture', capture: true },
      workerInProcess: false,
      bodyLimit: 1024 * 1024,
    })
    try {
      await built.app.listen({ host: '127.0.0.1', port: 0 })
      const url = `http://127.0.0.1:${(built.app.server.address() as AddressInfo).port}`
      const routes = built.routes().filter((r) => r.url.startsWith('/api/suppressions'))
      expect(routes.map((r) => `${r.method} ${r.url} ${r.access}`).sort()).toEqual([
        'DELETE /api/suppressions admin',
        'DELETE /api/suppressions/:address admin',
        'GET /api/suppressions admin',
        'HEAD /api/suppressions admin',
        'POST /api/suppressions admin',
      ])

      const body = { addresses: ['victim@example.com'] }
      // A page on another site posting to the operator's loopback server.
      const crossSite = await call(url, 'POST', '/api/suppressions', {
        body,
        headers: { origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' },
      })
      expect(crossSite.status).toBe(403)
      expect(crossSite.json.error.code).toBe('OUTBOX_FORBIDDEN')
      // DNS rebinding: the right address under another name.
      expect(
        await withHost(`${url}/api/suppressions`, 'POST', 'evil.example', JSON.stringify(body)),
      ).toBe(403)
      expect(await withHost(`${url}/api/suppressions`, 'GET', 'evil.example', '')).toBe(403)
      expect(await outbox.admin.suppressions.count()).toBe(0)

      // The dashboard itself (same origin) may.
      const same = await call(url, 'POST', '/api/suppressions', {
        body,
        headers: { origin: url, 'sec-fetch-site': 'same-origin' },
      })
      expect(same.status).toBe(200)
      expect(await outbox.admin.suppressions.count()).toBe(1)
      const removeCrossSite = await call(url, 'DELETE', '/api/suppressions/victim%40example.com', {
        headers: { origin: 'http://evil.example' },
      })
      expect(removeCrossSite.status).toBe(403)
      expect(await outbox.admin.suppressions.count()).toBe(1)
    } finally {
      await built.app.close()
      await outbox.close()
    }
  })
})

describe('/api/suppressions on every store backend', () => {
  for (const backend of backends) {
    it.skipIf(!backend.available)(
      `${backend.name}: add, search, page, import and remove`,
      async () => {
        const outbox = await createOutbox({ store: await backend.newUrl('suppress_http') })
        const server = await startHttpServer(outbox, { listen: '127.0.0.1:0', adminToken: TOKEN })
        const api = (method: string, path: string, body?: unknown) =>
          call(server.url, method, path, { headers: auth, ...(body === undefined ? {} : { body }) })
        try {
          expect(
            (
              await api('POST', '/api/suppressions', {
                addresses: ['Zed@Example.com', 'amy@example.org'],
              })
            ).json,
          ).toEqual({ added: ['zed@example.com', 'amy@example.org'], existing: [] })
          const csv = `email\n${Array.from({ length: 25 }, (_, i) => `user${i}@bulk.example`).join('\n')}\nzed@example.com\n`
          expect((await api('POST', '/api/suppressions', { csv })).json).toEqual({
            records: 26,
            added: 25,
            existing: 1,
            duplicates: 0,
            skipped: [],
          })
          const bulk = await api('GET', '/api/suppressions?search=BULK.example&limit=10')
          expect(bulk.json.total).toBe(25)
          expect(bulk.json.entries).toHaveLength(10)
          let cursor: string | null = bulk.json.nextCursor
          const seen = bulk.json.entries.map((e: any) => e.address)
          while (cursor) {
            const next = await api(
              'GET',
              `/api/suppressions?search=bulk.example&limit=10&cursor=${encodeURIComponent(cursor)}`,
            )
            seen.push(...next.json.entries.map((e: any) => e.address))
            cursor = next.json.nextCursor
          }
          expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `user${i}@bulk.example`).sort())
          expect((await api('DELETE', '/api/suppressions/ZED%40example.com')).json).toEqual({
            removed: ['zed@example.com'],
            notFound: [],
          })
          expect((await api('GET', '/api/suppressions')).json.total).toBe(26)
        } finally {
          await server.close()
          await outbox.close()
        }
      },
    )
  }
})
