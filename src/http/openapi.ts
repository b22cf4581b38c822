import { z } from 'zod'
import { packageVersion } from '../version.js'
import {
  enqueueSchema,
  eventLogQuerySchema,
  listQuerySchema,
  purgeSchema,
  selectorSchema,
  sessionSchema,
  suppressionAddSchema,
  suppressionListQuerySchema,
  suppressionRemoveSchema,
  templatePutSchema,
  templateRemoveQuerySchema,
  templateRenderSchema,
  webhookRetrySchema,
} from './api-schemas.js'
import {
  eventSchema,
  storedTemplateSchema,
  templateDetailSchema,
  templateListSchema,
  templateRenderingSchema,
  webhookListSchema,
} from './openapi-components.js'
import { statsQuerySchema } from './routes/overview.js'

type JsonSchema = Record<string, unknown>

function schemaOf(schema: z.ZodType): JsonSchema {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema
  delete json.$schema
  return json
}

/** Query parameters of an operation, from the properties of an object schema. */
function queryParameters(schema: z.ZodType): JsonSchema[] {
  const json = schemaOf(schema) as { properties?: Record<string, JsonSchema> }
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: 'query',
    required: false,
    description: property.description,
    schema: property,
  }))
}

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
})
const json = (description: string, schema: JsonSchema = { type: 'object' }) => ({
  description,
  content: { 'application/json': { schema } },
})
const body = (schema: z.ZodType) => ({
  required: true,
  content: { 'application/json': { schema: schemaOf(schema) } },
})
const idParameter = { name: 'id', in: 'path', required: true, schema: { type: 'string' } }
const nameParameter = {
  name: 'name',
  in: 'path',
  required: true,
  description: "The template's name",
  schema: { type: 'string' },
}
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` })
const errors = {
  400: errorResponse('Invalid input; `field` names it'),
  401: errorResponse('No or wrong admin token'),
  403: errorResponse('Cross-site browser request or unknown host name refused'),
  503: errorResponse('The store is unreachable'),
}
const actionResult = {
  type: 'object',
  properties: {
    changed: { type: 'array', items: { type: 'string' } },
    unchanged: { type: 'array', items: { type: 'string' } },
    notFound: { type: 'array', items: { type: 'string' } },
  },
}

/** The OpenAPI 3.1 document served at `/api/openapi.json`, built from the request schemas. */
export function openApiDocument(): JsonSchema {
  const single = (summary: string) => ({
    summary,
    parameters: [idParameter],
    responses: {
      200: json('What changed', actionResult),
      404: errorResponse('No such message'),
      ...errors,
    },
  })
  return {
    openapi: '3.1.0',
    info: {
      title: 'Outbox HTTP API',
      version: packageVersion(),
      description:
        'Inspect and steer the mail queue, and enqueue mail from any language. Authenticate with ' +
        '`Authorization: Bearer <OUTBOX_ADMIN_TOKEN>` (not needed when the server listens on loopback ' +
        'without a token). Errors are `{ "error": { "code", "message", "field" } }`.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        WebhookList: webhookListSchema,
        Event: eventSchema,
        StoredTemplate: storedTemplateSchema,
        TemplateList: templateListSchema,
        TemplateDetail: templateDetailSchema,
        TemplateRendering: templateRenderingSchema,
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { type: 'string', example: 'OUTBOX_INVALID_MESSAGE' },
                message: { type: 'string' },
                field: {
                  type: 'string',
                  description: 'The offending input field, when there is one',
                },
                problems: {
                  type: 'array',
                  description: 'Of a suppression-list import: each bad line',
                  items: {
                    type: 'object',
                    properties: { line: { type: 'integer' }, message: { type: 'string' } },
                  },
                },
                line: {
                  type: ['integer', 'null'],
                  description:
                    'Of a template that does not parse (OUTBOX_TEMPLATE_SYNTAX): the 1-based line in the part `field` names',
                },
                column: {
                  type: ['integer', 'null'],
                  description: 'Of a template that does not parse: the 1-based column',
                },
              },
            },
          },
        },
      },
    },
    security: [{ bearer: [] }],
    paths: {
      '/api/messages': {
        get: {
          summary: 'List messages, newest first, a page at a time (filters as in `outbox list`)',
          parameters: queryParameters(listQuerySchema),
          responses: { 200: json('`{ messages, nextCursor }`'), ...errors },
        },
        post: {
          summary: 'Enqueue a message, as `outbox.send(mail, options)` does',
          requestBody: body(enqueueSchema),
          responses: {
            201: json(
              'Stored: `{ id, messageId, duplicate: false, status, suppressed }` (`suppressed`: recipients on the suppression list, failed at once)',
            ),
            200: json('An earlier message had the same idempotency key: nothing stored'),
            413: errorResponse('Message larger than maxMessageSize'),
            ...errors,
          },
        },
      },
      '/api/messages/{id}': {
        get: {
          summary:
            'One message: envelope, headers, per-recipient status, attempt log, text body, attachments',
          parameters: [idParameter],
          responses: { 200: json('The message'), 404: errorResponse('No such message'), ...errors },
        },
        delete: single('Delete a message and its attempt log'),
      },
      '/api/messages/{id}/raw': {
        get: {
          summary: 'The stored RFC 5322 bytes',
          parameters: [idParameter],
          responses: {
            200: { description: 'message/rfc822', content: { 'message/rfc822': {} } },
            404: errorResponse('No such message'),
          },
        },
      },
      '/api/messages/{id}/html': {
        get: {
          summary:
            'The HTML body, inline images included, under a sandboxing CSP (`?images=1` allows remote images)',
          parameters: [idParameter, { name: 'images', in: 'query', schema: { enum: ['0', '1'] } }],
          responses: {
            200: { description: 'text/html' },
            404: errorResponse('No message or no HTML body'),
          },
        },
      },
      '/api/messages/{id}/attachments/{index}': {
        get: {
          summary: 'Download one attachment (index as listed in the message)',
          parameters: [
            idParameter,
            { name: 'index', in: 'path', required: true, schema: { type: 'integer' } },
          ],
          responses: {
            200: { description: 'The attachment' },
            404: errorResponse('No such attachment'),
          },
        },
      },
      '/api/messages/{id}/retry': {
        post: single('Send a deferred message now, or requeue a failed one'),
      },
      '/api/messages/{id}/hold': { post: single('Set a queued or deferred message aside') },
      '/api/messages/{id}/release': { post: single('Put a held message back in the queue') },
      '/api/bulk/{action}': {
        post: {
          summary: 'retry, hold, release or delete messages by ids or by filter',
          parameters: [
            {
              name: 'action',
              in: 'path',
              required: true,
              schema: { enum: ['retry', 'hold', 'release', 'delete'] },
            },
          ],
          requestBody: body(selectorSchema),
          responses: { 200: json('What changed', actionResult), ...errors },
        },
      },
      '/api/purge': {
        post: {
          summary: 'Delete finished messages older than a duration',
          requestBody: body(purgeSchema),
          responses: { 200: json('`{ deleted }`'), ...errors },
        },
      },
      '/api/stats': {
        get: {
          summary:
            'Counts per status, oldest waiting age, activity per minute, queue depth, upstream health',
          parameters: queryParameters(statsQuerySchema),
          responses: { 200: json('The overview'), ...errors },
        },
      },
      '/api/upstreams': {
        get: {
          summary:
            'Every upstream as the running workers see it (state, current and configured rate, connections, last hour, last error) and every rate-limited domain',
          responses: { 200: json('`{ upstreams, domains }`'), ...errors },
        },
      },
      '/api/suppressions': {
        get: {
          summary:
            'The suppression list in address order, a page at a time (`search`: addresses containing it)',
          parameters: queryParameters(suppressionListQuerySchema),
          responses: {
            200: json(
              '`{ entries: [{ address, reason, reply, messageId, createdAt }], nextCursor, total }`',
            ),
            ...errors,
          },
        },
        post: {
          summary:
            'Suppress addresses (`{ addresses, reason, reply }`), or import a file (`{ csv, reason, reply, skipInvalid }`); entries already on the list are kept as they are',
          requestBody: body(suppressionAddSchema),
          responses: {
            ...errors,
            200: json(
              '`{ added, existing }` for addresses; `{ records, added, existing, duplicates, skipped }` for csv',
            ),
            400: errorResponse(
              'A bad address or line; nothing stored. For csv, `problems` lists each bad line: `[{ line, message }]`',
            ),
          },
        },
        delete: {
          summary: 'Take addresses off the suppression list',
          requestBody: body(suppressionRemoveSchema),
          responses: { 200: json('`{ removed, notFound }`'), ...errors },
        },
      },
      '/api/suppressions/{address}': {
        delete: {
          summary: 'Take one address off the suppression list',
          parameters: [{ name: 'address', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            200: json('`{ removed, notFound }`'),
            404: errorResponse('The address is not on the list'),
            ...errors,
          },
        },
      },
      '/api/templates': {
        get: {
          summary: "Every stored template by name, with each language's latest version",
          responses: { 200: json('`{ templates }`', ref('TemplateList')), ...errors },
        },
      },
      '/api/templates/{name}': {
        get: {
          summary: 'One template: every language, each with every version (newest first)',
          parameters: [nameParameter],
          responses: {
            200: json('The template', ref('TemplateDetail')),
            404: errorResponse('No such template (OUTBOX_TEMPLATE_NOT_FOUND, field `template`)'),
            ...errors,
          },
        },
        put: {
          summary:
            "Store a new version of one language (version 1 of a new template or language); nothing when the content is the latest version's",
          parameters: [nameParameter],
          requestBody: body(templatePutSchema),
          responses: {
            ...errors,
            201: json('A new version: `{ template, created: true }`', {
              type: 'object',
              properties: { template: ref('StoredTemplate'), created: { const: true } },
            }),
            200: json(
              'The same as the latest version, nothing stored: `{ template, created: false }`',
              {
                type: 'object',
                properties: { template: ref('StoredTemplate'), created: { const: false } },
              },
            ),
            400: errorResponse(
              'A bad name, language or part (nothing stored); a part that does not parse is OUTBOX_TEMPLATE_SYNTAX with `field` (subject, html, text), `line` and `column`',
            ),
          },
        },
        delete: {
          summary:
            'Delete a template (every language and version), or one language of it (`?language=de`); messages made from it keep their bytes',
          parameters: [nameParameter, ...queryParameters(templateRemoveQuerySchema)],
          responses: {
            200: json('How many versions were deleted: `{ removed }`', {
              type: 'object',
              required: ['removed'],
              properties: { removed: { type: 'integer' } },
            }),
            404: errorResponse('No such template, or not in that language; nothing deleted'),
            ...errors,
          },
        },
      },
      '/api/templates/{name}/render': {
        post: {
          summary:
            'Render a stored version with a context, as sending would (language fallback included), or unsaved `content` (a preview while editing); nothing is stored or sent',
          parameters: [nameParameter],
          requestBody: body(templateRenderSchema),
          responses: {
            ...errors,
            200: json('The rendering, and which version made it', ref('TemplateRendering')),
            400: errorResponse(
              'A variable missing from the context (OUTBOX_TEMPLATE_RENDER, `field`: `context.name`), a context that is not an object, unsaved content that does not parse (OUTBOX_TEMPLATE_SYNTAX with `line` and `column`)',
            ),
            404: errorResponse('No such template, language or version'),
          },
        },
      },
      '/api/templates/previews/{id}': {
        get: {
          summary:
            'The HTML of a rendering made with `preview: true`, under the sandboxing CSP of message HTML (no scripts; `?images=1` allows remote images); kept 10 minutes',
          parameters: [idParameter, { name: 'images', in: 'query', schema: { enum: ['0', '1'] } }],
          responses: {
            200: { description: 'text/html' },
            404: errorResponse('No such preview (expired: render again)'),
          },
        },
      },
      '/api/webhooks': {
        get: {
          summary:
            'Every configured webhook endpoint: its state (ok, failing, gave-up, new), backlog, deliveries, last success and error, next attempt, batches given up',
          responses: {
            200: json('`{ webhooks }`', { $ref: '#/components/schemas/WebhookList' }),
            ...errors,
          },
        },
      },
      '/api/webhooks/retry': {
        post: {
          summary:
            'Send again what endpoints gave up on (`names`: those endpoints; all when absent), as `outbox webhooks retry` does',
          requestBody: body(webhookRetrySchema),
          responses: {
            ...errors,
            200: json('How many endpoints were asked', {
              type: 'object',
              required: ['asked'],
              properties: { asked: { type: 'integer' } },
            }),
            400: errorResponse('A name that is not a configured webhook; nothing asked'),
          },
        },
      },
      '/api/event-log': {
        get: {
          summary:
            'The durable event log in log order, a page at a time: every state change by any process (pass the `cursor` back as `after` for the next page)',
          parameters: queryParameters(eventLogQuerySchema),
          responses: {
            200: json('`{ events: [{ seq, type, at, id, recipient, data }], cursor }`', {
              type: 'object',
              required: ['events', 'cursor'],
              properties: {
                events: { type: 'array', items: { $ref: '#/components/schemas/Event' } },
                cursor: {
                  type: ['string', 'null'],
                  description:
                    'Pass as `after` for the next page; null when nothing was found yet (ask again with the same query)',
                },
              },
            }),
            ...errors,
          },
        },
      },
      '/api/session': {
        get: {
          summary: 'Whether a token is needed and whether this browser is signed in',
          security: [],
          responses: { 200: json('`{ authRequired, authenticated }`') },
        },
        post: {
          summary: 'Sign a browser in: exchanges the admin token for an HttpOnly session cookie',
          security: [],
          requestBody: body(sessionSchema),
          responses: { 204: { description: 'Signed in' }, 401: errorResponse('Wrong token') },
        },
        delete: {
          summary: 'Sign out',
          security: [],
          responses: { 204: { description: 'Signed out' } },
        },
      },
      '/api/events': {
        get: {
          summary:
            'Server-sent events: `change` (at most twice a second) when any process on the store enqueued, delivered or changed mail',
          responses: { 200: { description: 'text/event-stream' } },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics',
          responses: { 200: { description: 'text/plain; version=0.0.4' } },
        },
      },
    },
  }
}
