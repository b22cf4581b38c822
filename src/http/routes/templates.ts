import type { FastifyInstance } from 'fastify'
import { randomBytes } from 'node:crypto'
import { ErrorCodes, OutboxError } from '../../errors.js'
import type { Outbox } from '../../outbox.js'
import {
  parseInput,
  previewParamsSchema,
  templateParamsSchema,
  templatePutSchema,
  templateRemoveQuerySchema,
  templateRenderSchema,
} from '../api-schemas.js'
import { sendSandboxedHtml } from '../message-content.js'

/** How long a rendered preview can be framed, and how many (and how much HTML) are kept. */
const PREVIEW_TTL_MS = 10 * 60_000
const PREVIEW_MAX = 50
const PREVIEW_MAX_CHARS = 32 * 1024 * 1024

/**
 * Rendered previews' HTML, kept briefly so that the dashboard can frame it from this origin
 * under the same sandboxing headers as message HTML (a `srcdoc` frame would inherit the
 * dashboard's own CSP instead, which forbids the inline styles mail is written with). In
 * memory, per server: the dashboard frames it from the server that rendered it.
 */
function createPreviewCache(now: () => number = Date.now) {
  const previews = new Map<string, { html: string; at: number }>()
  let chars = 0
  const drop = (id: string) => {
    const found = previews.get(id)
    if (!found) return
    chars -= found.html.length
    previews.delete(id)
  }
  const expire = () => {
    // Oldest first (insertion order): stop at the first one still wanted.
    for (const [id, p] of previews) {
      if (
        previews.size <= PREVIEW_MAX &&
        chars <= PREVIEW_MAX_CHARS &&
        now() - p.at < PREVIEW_TTL_MS
      ) {
        break
      }
      drop(id)
    }
  }
  return {
    add(html: string): string {
      const id = randomBytes(18).toString('base64url')
      previews.set(id, { html, at: now() })
      chars += html.length
      expire()
      return id
    },
    get(id: string): string | null {
      expire()
      return previews.get(id)?.html ?? null
    },
  }
}

/**
 * Stored templates over HTTP: list, every version of one, a new version, delete, render (with
 * a sandboxed preview for the dashboard). Every route needs the admin token (the default
 * access): templates are what customers receive. On these routes a template or language that
 * is not there is 404 (`templateRoute`); in a message it is a bad request.
 */
export function registerTemplateRoutes(app: FastifyInstance, outbox: Outbox): void {
  const templates = outbox.admin.templates
  const previews = createPreviewCache()
  const config = { templateRoute: true }

  app.get('/api/templates', { config }, async () => ({ templates: await templates.list() }))

  app.get('/api/templates/:name', { config }, async (request) => {
    const { name } = parseInput(templateParamsSchema, request.params, 'path')
    return templates.get(name)
  })

  app.put('/api/templates/:name', { config }, async (request, reply) => {
    const { name } = parseInput(templateParamsSchema, request.params, 'path')
    const { language, subject, html, text } = parseInput(templatePutSchema, request.body, 'body')
    const result = await templates.put(name, language, {
      subject,
      html: html ?? null,
      text: text ?? null,
    })
    return reply.status(result.created ? 201 : 200).send(result)
  })

  app.delete('/api/templates/:name', { config }, async (request) => {
    const { name } = parseInput(templateParamsSchema, request.params, 'path')
    const { language } = parseInput(templateRemoveQuerySchema, request.query, 'query')
    return { removed: await templates.remove(name, language) }
  })

  app.post('/api/templates/:name/render', { config }, async (request) => {
    const { name } = parseInput(templateParamsSchema, request.params, 'path')
    const body = parseInput(templateRenderSchema, request.body, 'body')
    const rendering = await templates.render({
      name,
      ...(body.language !== undefined ? { language: body.language } : {}),
      ...(body.version !== undefined ? { version: body.version } : {}),
      context: body.context ?? {},
      ...(body.content
        ? {
            content: {
              subject: body.content.subject,
              html: body.content.html ?? null,
              text: body.content.text ?? null,
            },
          }
        : {}),
    })
    if (!body.preview) return rendering
    const preview =
      rendering.html === null ? null : `/api/templates/previews/${previews.add(rendering.html)}`
    return { ...rendering, preview }
  })

  app.get('/api/templates/previews/:id', { config }, async (request, reply) => {
    const { id } = parseInput(previewParamsSchema, request.params, 'path')
    const remoteImages = (request.query as { images?: string }).images === '1'
    const html = previews.get(id)
    if (html === null) {
      throw new OutboxError(
        ErrorCodes.NOT_FOUND,
        'No such preview: previews are kept for 10 minutes. Render it again.',
      )
    }
    return sendSandboxedHtml(reply, html, remoteImages)
  })
}
