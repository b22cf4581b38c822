import { createHmac, timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { AccessDeniedError, ErrorCodes } from '../errors.js'

/** The cookie a browser gets from `POST /api/session` in place of the token itself. */
export const SESSION_COOKIE = 'outbox_session'

/** Who may use the HTTP API. */
export interface AccessPolicy {
  /** The admin token, or null when the server is open (loopback only). */
  token: string | null
  /** Host names a browser may call the server by when there is no token (DNS-rebinding guard). */
  allowedHosts: ReadonlySet<string>
}

/** How a request proved it may act. */
export type Credential = 'bearer' | 'cookie' | 'open'

/**
 * The session cookie's value: an HMAC of the token, so the token never sits in the browser,
 * no server-side session table is needed, and changing the token ends every session.
 */
export function sessionValue(token: string): string {
  return createHmac('sha256', token).update('outbox dashboard session v1').digest('base64url')
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** Whether `given` is the admin token (constant time). */
export function isToken(policy: AccessPolicy, given: unknown): boolean {
  return policy.token !== null && typeof given === 'string' && same(given, policy.token)
}

function cookie(request: FastifyRequest, name: string): string | null {
  const header = request.headers.cookie
  if (!header) return null
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return null
}

/** The host name of a Host header: `[::1]:8025` → `::1`, `Localhost:80` → `localhost`. */
export function hostName(host: string | undefined): string {
  if (!host) return ''
  const h = host.trim().toLowerCase()
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']'))
  const colon = h.lastIndexOf(':')
  return colon === -1 ? h : h.slice(0, colon)
}

/**
 * Checks the request's credential. Without a token the server only listens on loopback, but
 * a web page the operator visits could still reach it through a DNS name that resolves to
 * 127.0.0.1 (DNS rebinding); such requests carry that name in Host, so only known names pass.
 */
export function authenticate(request: FastifyRequest, policy: AccessPolicy): Credential {
  if (policy.token === null) {
    const name = hostName(request.headers.host)
    if (!policy.allowedHosts.has(name)) {
      throw new AccessDeniedError(
        ErrorCodes.FORBIDDEN,
        `Host name ${JSON.stringify(name)} is not allowed without an admin token; open the dashboard ` +
          `as http://127.0.0.1 or http://localhost, or set OUTBOX_ADMIN_TOKEN.`,
      )
    }
    return 'open'
  }
  const authorization = request.headers.authorization
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization)
    if (match && isToken(policy, match[1])) return 'bearer'
    throw new AccessDeniedError(
      ErrorCodes.UNAUTHORIZED,
      'The bearer token is not the admin token (OUTBOX_ADMIN_TOKEN).',
    )
  }
  const session = cookie(request, SESSION_COOKIE)
  if (session !== null && same(session, sessionValue(policy.token))) return 'cookie'
  throw new AccessDeniedError(
    ErrorCodes.UNAUTHORIZED,
    'Send the admin token as `Authorization: Bearer <token>`, or sign in to the dashboard.',
  )
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * Refuses state-changing requests a browser makes on behalf of another site (CSRF). A bearer
 * token is never attached by a browser on its own, so such requests pass. Otherwise a browser
 * says where a request comes from (Sec-Fetch-Site, Origin, on every POST and DELETE); a request
 * with neither header is not from a browser (curl, a script) and passes.
 */
export function checkCrossSite(request: FastifyRequest, credential: Credential): void {
  if (SAFE_METHODS.has(request.method) || credential === 'bearer') return
  const site = request.headers['sec-fetch-site']
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    throw new AccessDeniedError(
      ErrorCodes.FORBIDDEN,
      `Cross-site request refused (Sec-Fetch-Site: ${String(site)}); use the dashboard itself, or send the admin token as a bearer token.`,
    )
  }
  const origin = request.headers.origin
  if (origin === undefined) return
  let originHost: string | null = null
  try {
    originHost = origin === 'null' ? null : new URL(origin).host.toLowerCase()
  } catch {
    originHost = null
  }
  if (originHost === null || originHost !== (request.headers.host ?? '').toLowerCase()) {
    throw new AccessDeniedError(
      ErrorCodes.FORBIDDEN,
      `Cross-site request refused (Origin ${JSON.stringify(origin)} is not this server); use the dashboard itself, or send the admin token as a bearer token.`,
    )
  }
}
