import type { FastifyInstance } from 'fastify'
import { AccessDeniedError, ErrorCodes } from '../../errors.js'
import {
  authenticate,
  isToken,
  SESSION_COOKIE,
  sessionValue,
  type AccessPolicy,
} from '../access.js'
import { parseInput, sessionSchema } from '../api-schemas.js'

const WEEK_SECONDS = 7 * 24 * 3600

/**
 * Signing a browser in and out. The browser gets an HttpOnly, SameSite=Strict cookie derived
 * from the token: page scripts never hold the token, and other sites cannot send the cookie.
 */
export function registerSessionRoutes(app: FastifyInstance, policy: AccessPolicy): void {
  // Tells the dashboard whether to ask for the token: anyone may ask.
  app.get('/api/session', { config: { access: 'public' } }, async (request) => {
    let authenticated = false
    try {
      authenticate(request, policy)
      authenticated = true
    } catch {
      authenticated = false
    }
    return { authRequired: policy.token !== null, authenticated }
  })

  // Signing in changes state too: refused from other sites (login CSRF).
  app.post('/api/session', { config: { access: 'sign-in' } }, async (request, reply) => {
    const { token } = parseInput(sessionSchema, request.body, 'body')
    if (policy.token === null) return reply.status(204).send()
    if (!isToken(policy, token)) {
      throw new AccessDeniedError(ErrorCodes.UNAUTHORIZED, 'That is not the admin token.')
    }
    return reply
      .header(
        'set-cookie',
        `${SESSION_COOKIE}=${sessionValue(policy.token)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${WEEK_SECONDS}`,
      )
      .status(204)
      .send()
  })

  app.delete('/api/session', { config: { access: 'sign-in' } }, async (_request, reply) => {
    return reply
      .header('set-cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`)
      .status(204)
      .send()
  })
}
