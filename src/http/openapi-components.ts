// Response shapes of the OpenAPI document that are more than a sentence: kept apart so that
// openapi.ts stays a list of routes.

const dateTime = { type: ['string', 'null'], format: 'date-time' }
/** `GET /api/webhooks`: `WebhookStatus` of src/admin/webhooks.ts, dates as ISO text. */
export const webhookListSchema = {
  type: 'object',
  required: ['webhooks'],
  properties: {
    webhooks: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          url: { type: 'string', description: 'Without its query string, which may hold a token' },
          events: { type: 'array', items: { type: 'string' } },
          state: {
            enum: ['ok', 'failing', 'gave-up', 'new'],
            description:
              'failing: retrying a batch; gave-up: some batches were given up (retry sends them again); new: nothing delivered yet',
          },
          backlog: { type: 'integer', description: 'Events of its types not delivered yet' },
          delivered: { type: 'integer' },
          requests: { type: 'integer' },
          uncertain: {
            type: 'integer',
            description: 'Requests whose outcome was unknown (each may have been delivered twice)',
          },
          attempts: { type: 'integer', description: 'Failed attempts of the batch under way' },
          lastError: { type: ['string', 'null'] },
          lastErrorAt: dateTime,
          lastSuccessAt: dateTime,
          lastStatus: { type: ['integer', 'null'] },
          failingSince: dateTime,
          nextAttemptAt: dateTime,
          failed: {
            type: 'object',
            properties: { batches: { type: 'integer' }, events: { type: 'integer' } },
          },
          retrying: { type: 'integer', description: 'Events being sent again after a retry' },
          worker: { type: ['string', 'null'], description: 'The worker delivering to it' },
        },
      },
    },
  },
}
/** One event of the log: `StoredEvent` of src/store/store.ts. */
export const eventSchema = {
  type: 'object',
  properties: {
    seq: { type: 'string', description: 'Its position in the log (opaque)' },
    type: { type: 'string' },
    at: { type: 'string', format: 'date-time' },
    id: { type: 'string', description: 'Queue id of the message' },
    recipient: { type: ['string', 'null'], description: 'Null for a message event' },
    data: { type: 'object', description: 'By type, as `outbox events --json` prints it' },
  },
}
/** One stored version of one language: `StoredTemplate` of src/store/store.ts. */
export const storedTemplateSchema = {
  type: 'object',
  required: ['name', 'language', 'version', 'subject', 'html', 'text', 'createdAt'],
  properties: {
    name: { type: 'string' },
    language: { type: 'string', description: 'Normalised: de-AT' },
    version: { type: 'integer', description: '1, 2, … per name and language' },
    subject: { type: 'string', description: 'Liquid source' },
    html: { type: ['string', 'null'], description: 'Liquid source; null for a text-only template' },
    text: { type: ['string', 'null'], description: 'Liquid source; null: made from the HTML' },
    createdAt: { type: 'string', format: 'date-time' },
  },
}
/** `GET /api/templates`: `TemplateSummary` of src/store/store.ts, dates as ISO text. */
export const templateListSchema = {
  type: 'object',
  required: ['templates'],
  properties: {
    templates: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'languages'],
        properties: {
          name: { type: 'string' },
          languages: {
            type: 'array',
            description: "Each language's latest version",
            items: {
              type: 'object',
              properties: {
                language: { type: 'string' },
                version: { type: 'integer' },
                updatedAt: { type: 'string', format: 'date-time' },
              },
            },
          },
        },
      },
    },
  },
}
/** `GET /api/templates/{name}`: `TemplateDetail` of src/admin/templates.ts. */
export const templateDetailSchema = {
  type: 'object',
  required: ['name', 'languages'],
  properties: {
    name: { type: 'string' },
    languages: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          language: { type: 'string' },
          versions: {
            type: 'array',
            description: 'Newest first',
            items: { $ref: '#/components/schemas/StoredTemplate' },
          },
        },
      },
    },
  },
}
/** `POST /api/templates/{name}/render`: `TemplateRendering` of src/admin/templates.ts. */
export const templateRenderingSchema = {
  type: 'object',
  required: ['subject', 'html', 'text', 'name', 'language', 'version'],
  properties: {
    subject: { type: 'string', description: 'One line' },
    html: { type: ['string', 'null'], description: 'Null for a text-only template' },
    text: { type: 'string', description: 'As rendered, or made from the HTML' },
    name: { type: 'string' },
    language: { type: 'string', description: 'The language used (after any fallback)' },
    version: { type: 'integer', description: 'The version rendered; 0 for unsaved `content`' },
    preview: {
      type: ['string', 'null'],
      description:
        'With `preview: true`: the URL of the HTML under a sandboxing CSP (`?images=1` allows remote images), kept 10 minutes; null without HTML',
    },
  },
}
