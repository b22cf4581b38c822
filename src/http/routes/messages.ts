import type { FastifyInstance } from 'fastify'
import { parseDuration } from '../../config/duration.js'
import { ErrorCodes, InvalidMessageError, MessageNotFoundError, OutboxError } from '../../errors.js'
import type { MailInput, SendOptions } from '../../message/types.js'
import { QUEUE_ACTIONS, type QueueAction } from '../../admin/queue-actions.js'
import type { Outbox } from '../../outbox.js'
import {
  attachmentParamsSchema,
  enqueueSchema,
  idParamsSchema,
  listQuerySchema,
  parseInput,
  purgeSchema,
  selectorSchema,
  toMessageFilter,
  toSelector,
} from '../api-schemas.js'
import { readAttachment, readContent, readHtml, sendSandboxedHtml } from '../message-content.js'

const ACTIONS = QUEUE_ACTIONS
type Action = QueueAction

/** A file name safe inside a Content-Disposition header (RFC 6266 with a UTF-8 fallback). */
function contentDisposition(kind: 'attachment' | 'inline', filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_')
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`
}

export function registerMessageRoutes(app: FastifyInstance, outbox: Outbox): void {
  const admin = outbox.admin

  app.get('/api/messages', async (request) => {
    const query = parseInput(listQuerySchema, request.query, 'query')
    const { limit, cursor, ...filter } = query
    return admin.list(toMessageFilter(filter), {
      limit: limit === undefined ? 50 : Number(limit),
      cursor: cursor ?? null,
    })
  })

  app.post('/api/messages', async (request, reply) => {
    const body = parseInput(enqueueSchema, request.body, 'body')
    // Over HTTP the caller is remote: Nodemailer must not read files or fetch URLs for it.
    const mail = { ...body.mail, disableFileAccess: true, disableUrlAccess: true } as MailInput
    const result = await outbox.send(mail, body.options as SendOptions | undefined)
    return reply.status(result.duplicate ? 200 : 201).send(result)
  })

  app.get('/api/messages/:id', async (request) => {
    const { id } = parseInput(idParamsSchema, request.params, 'path')
    const detail = await admin.getMessage(id)
    const content = await readContent(await admin.getRaw(id))
    return { ...detail, ...content }
  })

  app.get('/api/messages/:id/raw', async (request, reply) => {
    const { id } = parseInput(idParamsSchema, request.params, 'path')
    const raw = await admin.getRaw(id)
    return reply
      .type('message/rfc822')
      .header('content-disposition', contentDisposition('attachment', `${id}.eml`))
      .send(raw)
  })

  app.get('/api/messages/:id/html', async (request, reply) => {
    const { id } = parseInput(idParamsSchema, request.params, 'path')
    const remoteImages = (request.query as { images?: string }).images === '1'
    const html = await readHtml(await admin.getRaw(id))
    if (html === null) {
      throw new OutboxError(ErrorCodes.NOT_FOUND, `Message ${id} has no HTML body.`)
    }
    return sendSandboxedHtml(reply, html, remoteImages)
  })

  app.get('/api/messages/:id/attachments/:index', async (request, reply) => {
    const { id, index } = parseInput(attachmentParamsSchema, request.params, 'path')
    const attachment = await readAttachment(await admin.getRaw(id), Number(index))
    if (!attachment) {
      throw new OutboxError(ErrorCodes.NOT_FOUND, `Message ${id} has no attachment ${index}.`)
    }
    // Always a download, never rendered here: an attached HTML file must not run as this origin.
    return reply
      .type(attachment.contentType)
      .header(
        'content-disposition',
        contentDisposition('attachment', attachment.filename ?? `attachment-${index}`),
      )
      .header('content-security-policy', "sandbox; default-src 'none'")
      .send(attachment.content)
  })

  const runAction = (action: Action, selector: Parameters<typeof admin.retry>[0]) =>
    action === 'retry'
      ? admin.retry(selector)
      : action === 'hold'
        ? admin.hold(selector)
        : action === 'release'
          ? admin.release(selector)
          : admin.delete(selector)

  for (const action of ['retry', 'hold', 'release'] as const) {
    app.post(`/api/messages/:id/${action}`, async (request) => {
      const { id } = parseInput(idParamsSchema, request.params, 'path')
      const result = await runAction(action, { ids: [id] })
      if (result.notFound.length > 0) throw new MessageNotFoundError(id)
      return result
    })
  }

  app.delete('/api/messages/:id', async (request) => {
    const { id } = parseInput(idParamsSchema, request.params, 'path')
    const result = await admin.delete({ ids: [id] })
    if (result.notFound.length > 0) throw new MessageNotFoundError(id)
    return result
  })

  app.post('/api/bulk/:action', async (request) => {
    const action = (request.params as { action: string }).action as Action
    if (!ACTIONS.includes(action)) {
      throw new OutboxError(
        ErrorCodes.NOT_FOUND,
        `No bulk action ${JSON.stringify(action)}; use one of ${ACTIONS.join(', ')}.`,
      )
    }
    return runAction(action, toSelector(parseInput(selectorSchema, request.body, 'body')))
  })

  app.post('/api/purge', async (request) => {
    const body = parseInput(purgeSchema, request.body, 'body')
    const olderThanMs = parseDuration(body.olderThan)
    if (olderThanMs === undefined) {
      throw new InvalidMessageError(
        'olderThan',
        `\`olderThan\` must be a duration such as 7d or 12h, got ${JSON.stringify(body.olderThan)}.`,
      )
    }
    return { deleted: await admin.purge({ olderThanMs, status: body.status }) }
  })
}
