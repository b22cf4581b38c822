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
