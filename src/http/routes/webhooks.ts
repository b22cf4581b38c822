import type { FastifyInstance } from 'fastify'
import type { Outbox } from '../../outbox.js'
import { parseInput, webhookRetrySchema } from '../api-schemas.js'

/**
 * The webhook endpoints over HTTP: their state, and sending again what they gave up on. Admin
 * access (the default): the state names receivers, and a retry sends events out again.
 */
export function registerWebhookRoutes(app: FastifyInstance, outbox: Outbox): void {
  const webhooks = outbox.admin.webhooks

  // Dates go out as ISO 8601 text (Date's toJSON).
  app.get('/api/webhooks', async () => ({ webhooks: await webhooks.list() }))

  app.post('/api/webhooks/retry', async (request) => {
    const { names } = parseInput(webhookRetrySchema, request.body, 'body')
    // An unknown name is refused by the admin with a message naming the configured ones (400).
    return { asked: await webhooks.retry(names) }
  })
}
