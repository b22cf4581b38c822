import type { FastifyInstance } from 'fastify'
import { ErrorCodes, InvalidMessageError, OutboxError } from '../../errors.js'
import type { Outbox } from '../../outbox.js'
import {
  parseInput,
  suppressionAddSchema,
  suppressionListQuerySchema,
  suppressionParamsSchema,
  suppressionRemoveSchema,
} from '../api-schemas.js'

/**
 * The suppression list over HTTP. Every route needs the admin token (the default access):
 * the list is personal data, and adding to it stops mail.
 */
export function registerSuppressionRoutes(app: FastifyInstance, outbox: Outbox): void {
  const suppressions = outbox.admin.suppressions

  app.get('/api/suppressions', async (request) => {
    const { limit, cursor, search } = parseInput(suppressionListQuerySchema, request.query, 'query')
    return suppressions.list({
      limit: limit === undefined ? 50 : Number(limit),
      cursor: cursor ?? null,
      ...(search !== undefined ? { search } : {}),
    })
  })

  app.post('/api/suppressions', async (request) => {
    const body = parseInput(suppressionAddSchema, request.body, 'body')
    const given = { reason: body.reason ?? 'manual', reply: body.reply ?? null }
    if ((body.addresses === undefined) === (body.csv === undefined)) {
      throw new InvalidMessageError(
        'body',
        'Send `addresses` (a list) or `csv` (a file to import), one of the two.',
      )
    }
    if (body.csv !== undefined) {
      return suppressions.import(body.csv, { ...given, skipInvalid: body.skipInvalid === true })
    }
    if (body.skipInvalid !== undefined) {
      throw new InvalidMessageError('skipInvalid', '`skipInvalid` applies to `csv` imports only.')
    }
    return suppressions.add(body.addresses!, given)
  })

  app.delete('/api/suppressions', async (request) => {
    const body = parseInput(suppressionRemoveSchema, request.body, 'body')
    return suppressions.remove(body.addresses)
  })

  app.delete('/api/suppressions/:address', async (request) => {
    const { address } = parseInput(suppressionParamsSchema, request.params, 'path')
    const result = await suppressions.remove([address])
    if (result.removed.length === 0) {
      throw new OutboxError(
        ErrorCodes.NOT_FOUND,
        `${JSON.stringify(address)} is not on the suppression list.`,
      )
    }
    return result
  })
}
