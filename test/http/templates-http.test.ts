/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-return -- response bodies are JSON of known shape, checked by the assertions */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOutbox, startHttpServer, type HttpServer, type Outbox } from '../../src/index.js'

// The template routes over a real server and a real SQLite store: what `outbox templates` does
// from any language, and sending with a template through POST /api/messages.

const TOKEN = 'templates-http-token-0123456789'
const auth = { authorization: `Bearer ${TOKEN}` }

async function call(
  server: HttpServer,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = auth,
) {
  const all: Record<string, string> = { ...headers }
  if (body !== undefined) all['content-type'] = 'application/json'
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: all,
    body: body === undefined ? undefined : JSON.stringify(body),
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

const welcome = {
  language: 'en',
  subject: 'Welcome, {{ name }}',
  html: '<p>Hello <b>{{ name }}</b>, your code is {{ code }}.</p>',
  text: 'Hello {{ name }}, your code is {{ code }}.',
}

describe('/api/templates', () => {
  const dir = mkdtempSync(join(tmpdir(), 'outbox-templates-http-'))
  let outbox: Outbox
  let server: HttpServer
  const api = (method: string, path: string, body?: unknown) => call(server, method, path, body)

  beforeAll(async () => {
    outbox = await createOutbox({ store: `sqlite:${join(dir, 'q.db')}` })
    server = await startHttpServer(outbox, { listen: '127.0.0.1:0', adminToken: TOKEN })
  })
  afterAll(async () => {
    await server?.close()
    await outbox?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('stores versions: PUT creates v1, then v2; the same content again is 200 and unchanged', async () => {
    const first = await api('PUT', '/api/templates/welcome', welcome)
    expect(first.status).toBe(201)
    expect(first.json.created).toBe(true)
    expect(first.json.template).toMatchObject({
      name: 'welcome',
      language: 'en',
      version: 1,
      subject: welcome.subject,
      html: welcome.html,
      text: welcome.text,
    })
    expect(new Date(first.json.template.createdAt).getTime()).not.toBeNaN()

    const second = await api('PUT', '/api/templates/welcome', {
      ...welcome,
      subject: 'Welcome aboard, {{ name }}',
    })
    expect(second.status).toBe(201)
    expect(second.json.template.version).toBe(2)

    const same = await api('PUT', '/api/templates/welcome', {
      ...welcome,
      subject: 'Welcome aboard, {{ name }}',
    })
    expect(same.status).toBe(200)
    expect(same.json).toMatchObject({ created: false, template: { version: 2 } })

    // A second language, text only; the language is normalised.
    const de = await api('PUT', '/api/templates/welcome', {
      language: 'DE',
      subject: 'Willkommen, {{ name }}',
      text: 'Hallo {{ name }}, Ihr Code: {{ code }}.',
    })
    expect(de.status).toBe(201)
    expect(de.json.template).toMatchObject({ language: 'de', version: 1, html: null })
  })

  it('lists templates with their languages, and one template with every version', async () => {
    const list = await api('GET', '/api/templates')
    expect(list.status).toBe(200)
    const entry = list.json.templates.find((t: any) => t.name === 'welcome')
    expect(entry.languages.map((l: any) => [l.language, l.version]).sort()).toEqual([
      ['de', 1],
      ['en', 2],
    ])
    for (const l of entry.languages) expect(new Date(l.updatedAt).getTime()).not.toBeNaN()

    const one = await api('GET', '/api/templates/welcome')
    expect(one.status).toBe(200)
    expect(one.json.name).toBe('welcome')
    const en = one.json.languages.find((l: any) => l.language === 'en')
    expect(en.versions.map((v: any) => v.version)).toEqual([2, 1])
    expect(en.versions[1].subject).toBe('Welcome, {{ name }}')
  })

  it('refuses bad input with the field, and a syntax error with line and column', async () => {
    const noParts = await api('PUT', '/api/templates/welcome', { language: 'en', subject: 'x' })
    expect(noParts.status).toBe(400)
    expect(noParts.json.error.field).toBe('html')

    const unknownField = await api('PUT', '/api/templates/welcome', { ...welcome, body: 'x' })
    expect(unknownField.status).toBe(400)
    expect(unknownField.json.error.field).toBe('body')

    const badName = await api('PUT', '/api/templates/bad%20name', welcome)
    expect(badName.status).toBe(400)
    expect(badName.json.error.field).toBe('name')

    const badLanguage = await api('PUT', '/api/templates/welcome', { ...welcome, language: '??' })
    expect(badLanguage.status).toBe(400)
    expect(badLanguage.json.error.field).toBe('language')

    const syntax = await api('PUT', '/api/templates/broken', {
      language: 'en',
      subject: 'Hi',
      html: '<p>line one</p>\n<p>{% if name %}unclosed</p>',
    })
    expect(syntax.status).toBe(400)
    expect(syntax.json.error).toMatchObject({
      code: 'OUTBOX_TEMPLATE_SYNTAX',
      field: 'html',
      line: 2,
    })
    expect(syntax.json.error.column).toBeGreaterThan(0)
    // Nothing was stored.
    expect((await api('GET', '/api/templates/broken')).status).toBe(404)
  })

  it('renders a version with a context; a missing variable is 400 naming it', async () => {
    const latest = await api('POST', '/api/templates/welcome/render', {
      language: 'en',
      context: { name: 'Ann & Bob', code: 42 },
    })
    expect(latest.status).toBe(200)
    expect(latest.json).toEqual({
      name: 'welcome',
      language: 'en',
      version: 2,
      subject: 'Welcome aboard, Ann & Bob',
      html: '<p>Hello <b>Ann &amp; Bob</b>, your code is 42.</p>',
      text: 'Hello Ann & Bob, your code is 42.',
    })

    const v1 = await api('POST', '/api/templates/welcome/render', {
      language: 'en',
      version: 1,
      context: { name: 'Ann', code: 1 },
    })
    expect(v1.json).toMatchObject({ version: 1, subject: 'Welcome, Ann' })

    // de-AT falls back to de, as sending does.
    const fallback = await api('POST', '/api/templates/welcome/render', {
      language: 'de-AT',
      context: { name: 'Ann', code: 7 },
    })
    expect(fallback.json).toMatchObject({ language: 'de', subject: 'Willkommen, Ann', html: null })

    const missing = await api('POST', '/api/templates/welcome/render', {
      language: 'en',
      context: { name: 'Ann' },
    })
    expect(missing.status).toBe(400)
    expect(missing.json.error).toMatchObject({
      code: 'OUTBOX_TEMPLATE_RENDER',
      field: 'context.code',
    })

    const notObject = await api('POST', '/api/templates/welcome/render', {
      language: 'en',
      context: ['Ann'],
    })
    expect(notObject.status).toBe(400)
    expect(notObject.json.error.field).toBe('context')
  })

  it('renders unsaved content, for a template that does not exist yet', async () => {
    const draft = await api('POST', '/api/templates/draft/render', {
      language: 'en',
      context: { n: 3 },
      content: { subject: 'You have {{ n }} items', html: '<i>{{ n }}</i>' },
    })
    expect(draft.status).toBe(200)
    expect(draft.json).toMatchObject({
      name: 'draft',
      version: 0,
      subject: 'You have 3 items',
      html: '<i>3</i>',
    })
    expect(draft.json.text).toContain('3')

    const broken = await api('POST', '/api/templates/draft/render', {
      context: {},
      content: { subject: 'Hi {{ name ', text: 'x' },
    })
    expect(broken.status).toBe(400)
    expect(broken.json.error).toMatchObject({
      code: 'OUTBOX_TEMPLATE_SYNTAX',
      field: 'subject',
      line: 1,
    })
    expect(typeof broken.json.error.column).toBe('number')
  })

  it('answers 404 for an unknown template, language or version', async () => {
    for (const [method, path, body] of [
      ['GET', '/api/templates/nope', undefined],
      ['DELETE', '/api/templates/nope', undefined],
      ['DELETE', '/api/templates/welcome?language=fr', undefined],
      ['POST', '/api/templates/nope/render', { context: {} }],
      ['POST', '/api/templates/welcome/render', { language: 'en', version: 9, context: {} }],
    ] as const) {
      const res = await api(method, path, body)
      expect(res.status, `${method} ${path}`).toBe(404)
      expect(res.json.error.code, `${method} ${path}`).toBe('OUTBOX_TEMPLATE_NOT_FOUND')
      expect(['template', 'language'], `${method} ${path}`).toContain(res.json.error.field)
    }
    const language = await api('POST', '/api/templates/welcome/render', {
      language: 'fr',
      context: {},
    })
    expect(language.json.error.field).toBe('language')
    expect(language.json.error.message).toContain('en')
  })

  it('serves a preview under the sandboxing policy of message HTML', async () => {
    const rendered = await api('POST', '/api/templates/draft/render', {
      context: { name: 'Ann' },
      content: {
        subject: 'Hi',
        html: '<p id="x">Hi {{ name }}</p><script>parent.pwned = 1</script>',
      },
      preview: true,
    })
    expect(rendered.status).toBe(200)
    expect(rendered.json.preview).toMatch(/^\/api\/templates\/previews\/[\w-]+$/)
    const page = await api('GET', rendered.json.preview)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toContain('text/html')
    const csp = page.headers.get('content-security-policy')!
    expect(csp).toContain('sandbox')
    expect(csp).not.toContain('allow-scripts')
    expect(csp).not.toContain('allow-same-origin')
    expect(csp).toContain("default-src 'none'")
    expect(csp).toContain('img-src data:;')
    expect(page.text).toContain('<p id="x">Hi Ann</p>')
    const images = await api('GET', `${rendered.json.preview}?images=1`)
    expect(images.headers.get('content-security-policy')).toContain('img-src data: http: https:')
    // Previews need the token as well, and an unknown one is 404.
    expect((await call(server, 'GET', rendered.json.preview, undefined, {})).status).toBe(401)
    expect((await api('GET', '/api/templates/previews/unknown')).status).toBe(404)
    // Text only: nothing to frame.
    const text = await api('POST', '/api/templates/draft/render', {
      content: { subject: 'Hi', text: 'plain' },
      preview: true,
    })
    expect(text.json.preview).toBeNull()
  })

  it('requires the token on every template route', async () => {
    for (const [method, path, body] of [
      ['GET', '/api/templates', undefined],
      ['GET', '/api/templates/welcome', undefined],
      ['PUT', '/api/templates/welcome', welcome],
      ['DELETE', '/api/templates/welcome', undefined],
      ['POST', '/api/templates/welcome/render', { context: {} }],
    ] as const) {
      const res = await call(server, method, path, body, {})
      expect(res.status, `${method} ${path}`).toBe(401)
      expect(res.text).not.toContain('Welcome')
    }
    // Nothing was changed by them.
    const one = await api('GET', '/api/templates/welcome')
    expect(one.json.languages).toHaveLength(2)
  })

  it('sends with a template: the message records the version, and keeps its bytes when the template changes', async () => {
    const sent = await api('POST', '/api/messages', {
      mail: {
        template: 'welcome',
        language: 'en',
        context: { name: 'Carla', code: 'X-17' },
        to: 'carla@example.com',
        from: 'shop@example.com',
      },
      options: { tags: ['welcome'] },
    })
    expect(sent.status).toBe(201)
    const detail = await api('GET', `/api/messages/${sent.json.id}`)
    expect(detail.status).toBe(200)
    expect(detail.json.template).toEqual({ name: 'welcome', language: 'en', version: 2 })
    expect(detail.json.subject).toBe('Welcome aboard, Carla')
    const raw = await api('GET', `/api/messages/${sent.json.id}/raw`)
    expect(raw.text).toContain('Subject: Welcome aboard, Carla')
    expect(raw.text).toContain('X-17')

    // A new version afterwards changes nothing stored.
    const edited = await api('PUT', '/api/templates/welcome', {
      ...welcome,
      subject: 'Something else entirely, {{ name }}',
    })
    expect(edited.json.template.version).toBe(3)
    const again = await api('GET', `/api/messages/${sent.json.id}/raw`)
    expect(again.text).toBe(raw.text)
    expect((await api('GET', `/api/messages/${sent.json.id}`)).json.template.version).toBe(2)

    // A plain message has no template.
    const plain = await api('POST', '/api/messages', {
      mail: { from: 'shop@example.com', to: 'ann@example.com', subject: 'Hi', text: 'x' },
    })
    expect((await api('GET', `/api/messages/${plain.json.id}`)).json.template).toBeNull()
  })

  it('refuses bad template mail with 400 naming the field, storing nothing', async () => {
    const before = await outbox.admin.countByStatus()
    const base = { to: 'dan@example.com', from: 'shop@example.com', language: 'en' }
    for (const [mail, field, code] of [
      [{ ...base, template: 'nope', context: {} }, 'template', 'OUTBOX_TEMPLATE_NOT_FOUND'],
      [
        { ...base, template: 'welcome', language: 'fr', context: {} },
        'language',
        'OUTBOX_TEMPLATE_NOT_FOUND',
      ],
      [
        { ...base, template: 'welcome', context: { name: 'Dan' } },
        'context.code',
        'OUTBOX_TEMPLATE_RENDER',
      ],
      [{ ...base, template: 'welcome', context: 'Dan' }, 'context', 'OUTBOX_INVALID_MESSAGE'],
      [{ ...base, template: 'welcome', context: [1] }, 'context', 'OUTBOX_INVALID_MESSAGE'],
      [
        { ...base, template: 'welcome', context: { name: 'x', code: 1 }, subject: 'Mine' },
        'subject',
        'OUTBOX_INVALID_MESSAGE',
      ],
      [{ ...base, template: 42, context: {} }, 'template', 'OUTBOX_INVALID_MESSAGE'],
    ] as const) {
      const res = await api('POST', '/api/messages', { mail })
      expect(res.status, JSON.stringify(mail)).toBe(400)
      expect(res.json.error, JSON.stringify(mail)).toMatchObject({ field, code })
    }
    expect(await outbox.admin.countByStatus()).toEqual(before)
  })

  it('deletes one language, then the whole template', async () => {
    const de = await api('DELETE', '/api/templates/welcome?language=de')
    expect(de).toMatchObject({ status: 200, json: { removed: 1 } })
    const left = await api('GET', '/api/templates/welcome')
    expect(left.json.languages.map((l: any) => l.language)).toEqual(['en'])
    expect((await api('DELETE', '/api/templates/welcome?language=de')).status).toBe(404)

    const all = await api('DELETE', '/api/templates/welcome')
    expect(all).toMatchObject({ status: 200, json: { removed: 3 } })
    expect((await api('GET', '/api/templates/welcome')).status).toBe(404)
    expect((await api('DELETE', '/api/templates/welcome')).status).toBe(404)
    expect((await api('GET', '/api/templates')).json.templates).toEqual([])
  })

  it('describes the routes in the OpenAPI document', async () => {
    const doc = (await api('GET', '/api/openapi.json')).json
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/templates',
        '/api/templates/{name}',
        '/api/templates/{name}/render',
        '/api/templates/previews/{id}',
      ]),
    )
    expect(Object.keys(doc.paths['/api/templates/{name}'])).toEqual(['get', 'put', 'delete'])
    const put = doc.paths['/api/templates/{name}'].put
    const schema = put.requestBody.content['application/json'].schema
    expect(schema.required).toEqual(expect.arrayContaining(['language', 'subject']))
    expect(doc.components.schemas.Error.properties.error.properties.line).toBeDefined()
  })
})
