import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import {
  AccessDeniedError,
  ConfigError,
  ErrorCodes,
  InvalidImportError,
  InvalidMessageError,
  MessageNotFoundError,
  OutboxError,
  StoreUnavailableError,
  TemplateNotFoundError,
  TemplateSyntaxError,
} from '../errors.js'
import type { ImportProblem } from '../errors.js'
import type { Logger } from '../logger.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The route is about stored templates (`/api/templates/…`): a template (or language) that is
     * not there is 404 on it. Elsewhere (a message naming a template) it is a bad request, 400.
     */
    templateRoute?: boolean
  }
}

/** The body of every error response. */
export interface ErrorBody {
  error: {
    code: string
    message: string
    field?: string
    /** Of a suppression-list import: each bad line (the first hundred). */
    problems?: readonly ImportProblem[]
    /** Of a template that does not parse: where, 1-based, in the part `field` names. */
    line?: number | null
    column?: number | null
  }
}

/** An HTTP status for an Outbox error. */
function statusOf(error: OutboxError, request: FastifyRequest): number {
  if (error instanceof TemplateNotFoundError && request.routeOptions.config?.templateRoute) {
    return 404
  }
  if (error instanceof InvalidMessageError) {
    return error.code === ErrorCodes.MESSAGE_TOO_LARGE ? 413 : 400
  }
  if (error instanceof MessageNotFoundError) return 404
  if (error instanceof AccessDeniedError) return error.code === ErrorCodes.UNAUTHORIZED ? 401 : 403
  if (error instanceof StoreUnavailableError) return 503
  if (error instanceof ConfigError) return 400
  if (error.code === ErrorCodes.NOT_FOUND) return 404
  if (error.code === ErrorCodes.CLOSED) return 503
  return 500
}

/** Turns any error into `{ error: { code, message, field } }` with a fitting status. */
export function createErrorHandler(logger: Logger) {
  return (error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) => {
    let status: number
    let body: ErrorBody
    if (error instanceof OutboxError) {
      status = statusOf(error, request)
      body = { error: { code: error.code, message: error.message } }
      if (error instanceof InvalidMessageError) body.error.field = error.field
      if (error instanceof TemplateSyntaxError) {
        body.error.line = error.line
        body.error.column = error.column
      }
      if (error instanceof InvalidImportError) body.error.problems = error.problems
      if (error instanceof ConfigError) body.error.field = error.key
    } else if (
      typeof (error as FastifyError).statusCode === 'number' &&
      (error as FastifyError).statusCode! < 500
    ) {
      // Fastify's own refusals: malformed JSON, wrong content type, body too large.
      status = (error as FastifyError).statusCode!
      body = {
        error: {
          code: status === 413 ? ErrorCodes.MESSAGE_TOO_LARGE : ErrorCodes.INVALID_MESSAGE,
          message: error.message,
          field: 'body',
        },
      }
    } else {
      status = 500
      logger.error({ err: error.message, url: request.url }, 'HTTP request failed')
      body = {
        error: {
          code: 'OUTBOX_INTERNAL',
          message: 'Internal error; the server log has the details.',
        },
      }
    }
    if (status === 401) reply.header('www-authenticate', 'Bearer realm="outbox"')
    return reply.status(status).send(body)
  }
}
