import type { FastifyInstance } from 'fastify'
import { describeValue, InvalidMessageError } from '../../errors.js'
import type { Outbox } from '../../outbox.js'
import type { StoredEvent } from '../../store/store.js'
import { eventLogQuerySchema, parseInput, toDate, toEventTypes } from '../api-schemas.js'

/**
 * `GET /api/event-log`: the durable event log a page at a time, for scripts that poll it
 * (`after` = the last page's `cursor`). Admin access: events name recipients.
 */
export function registerEventLogRoutes(app: FastifyInstance, outbox: Outbox): void {
  app.get('/api/event-log', async (request) => {
    const query = parseInput(eventLogQuerySchema, request.query, 'query')
    const limit = query.limit === undefined ? 100 : Number(query.limit)
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new InvalidMessageError(
        'limit',
        `\`limit\` must be a whole number from 1 to 1000, got ${describeValue(query.limit)}.`,
      )
    }
    const after = query.after === undefined || query.after === '' ? null : query.after
    const types = toEventTypes(query.types)
    const events: StoredEvent[] = []
    // One page of the log: the reader asks for `limit` and stops there, so no second read.
    for await (const event of outbox.events({
      after,
      ...(query.since !== undefined ? { since: toDate('since', query.since) } : {}),
      ...(types.length > 0 ? { types } : {}),
      pageSize: limit,
    })) {
      events.push(event)
      if (events.length === limit) break
    }
    // The last event's position: the next page starts after it. With none, the same `after`
    // again (null: nothing yet; ask again with the same query).
    return { events, cursor: events.at(-1)?.seq ?? after }
  })
}
