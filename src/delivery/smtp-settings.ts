import { parseConnectionUrl } from 'nodemailer/lib/shared'
import wellKnown from 'nodemailer/lib/well-known'
import { parseDuration } from '../config/duration.js'
import { ConfigError } from '../errors.js'
import type { ConnectionLimits } from './smtp-connections.js'
import type { SessionSettings } from './smtp-session.js'

/** How Outbox talks to an SMTP upstream: one session's settings, and the connection limits. */
export interface SmtpSettings {
  session: SessionSettings
  limits: ConnectionLimits
}

/** Timeouts unless the upstream options say otherwise. */
const TIMEOUTS = { connectionTimeout: 15_000, greetingTimeout: 15_000, socketTimeout: 120_000 }

/**
 * Options of Nodemailer's transports that Outbox's own connections do not implement: refused
 * with the way out rather than dropped without a word.
 */
const UNSUPPORTED: Record<string, string> = {
  proxy: 'a proxy',
  getSocket: 'getSocket',
  dkim: 'DKIM signing',
}

/** Nodemailer's pool options, which Outbox's own connection limits replace. */
const POOL_KEYS = ['pool', 'maxConnections', 'maxMessages', 'maxConnectionAge', 'poolSize']
const NODEMAILER_POOL_ONLY = [
  'maxRequeues',
  'idleTimeout',
  'rateLimit',
  'rateDelta',
  'url',
  'service',
]

function whole(value: unknown, name: string, max: number): number {
  const n = typeof value === 'string' ? Number(value) : value
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > max) {
    throw new ConfigError(
      'upstream',
      `\`upstream\` parameter ${name} must be a whole number from 1 to ${max}, got ${JSON.stringify(value)}.`,
    )
  }
  return n
}

function age(value: unknown): number {
  const ms =
    typeof value === 'number' || typeof value === 'string' ? parseDuration(value) : undefined
  if (ms === undefined || ms < 100) {
    throw new ConfigError(
      'upstream',
      `\`upstream\` parameter maxConnectionAge must be a duration of at least 100ms, such as 5m, got ${JSON.stringify(value)}.`,
    )
  }
  return ms
}

/**
 * Settings from Nodemailer SMTP options (`{ host, port, secure, auth, tls, … }`, or `service`,
 * or `url`), as `nodemailer.createTransport()` reads them, plus the connection limits
 * `maxConnections` (or `poolSize`), `maxMessages` and `maxConnectionAge`. Throws
 * {@link ConfigError} for what Outbox cannot honour.
 */
export function smtpSettingsFromOptions(
  options: Record<string, unknown>,
  defaults: ConnectionLimits,
): SmtpSettings {
  for (const [key, what] of Object.entries(UNSUPPORTED)) {
    if (options[key] !== undefined) {
      throw new ConfigError(
        'upstream',
        `\`upstream\` option ${key}: Outbox's SMTP connections do not support ${what}. ` +
          'Pass a Nodemailer transporter instead: upstream: nodemailer.createTransport({ … }).',
      )
    }
  }
  // As nodemailer.createTransport() merges them: the URL over the options, a well-known
  // service over both.
  const fromUrl = typeof options.url === 'string' ? parseConnectionUrl(options.url) : {}
  const service = fromUrl.service ?? options.service
  const merged: Record<string, unknown> = {
    ...options,
    ...fromUrl,
    ...(typeof service === 'string' ? (wellKnown(service) ?? {}) : {}),
  }
  const auth = merged.auth as Record<string, unknown> | undefined
  const authType = typeof auth?.type === 'string' ? auth.type.toUpperCase() : ''
  if (auth && (authType === 'OAUTH2' || auth.accessToken !== undefined)) {
    throw new ConfigError(
      'upstream',
      "`upstream` option auth: Outbox's SMTP connections log in with a user and password only. " +
        'For OAuth2 pass a Nodemailer transporter instead: upstream: nodemailer.createTransport({ … }).',
    )
  }
  const user = typeof auth?.user === 'string' ? auth.user : ''
  const pass = typeof auth?.pass === 'string' ? auth.pass : ''
  const connection: Record<string, unknown> = { ...TIMEOUTS }
  for (const [key, value] of Object.entries(merged)) {
    if (key === 'auth' || key === 'forceAuth' || POOL_KEYS.includes(key)) continue
    if (NODEMAILER_POOL_ONLY.includes(key)) continue
    connection[key] = value
  }
  const size = merged.poolSize ?? merged.maxConnections
  return {
    session: {
      connection,
      auth: user || pass ? { user, pass } : null,
      forceAuth: merged.forceAuth === true,
    },
    limits: {
      maxConnections: size === undefined ? defaults.maxConnections : whole(size, 'poolSize', 1000),
      maxMessages:
        merged.maxMessages === undefined
          ? defaults.maxMessages
          : whole(merged.maxMessages, 'maxMessages', 1_000_000),
      maxAgeMs:
        merged.maxConnectionAge === undefined ? defaults.maxAgeMs : age(merged.maxConnectionAge),
    },
  }
}

/**
 * Settings from an `smtp://` or `smtps://` URL: Nodemailer reads it (user and password,
 * `?requireTLS=true`, `?tls.rejectUnauthorized=false`, timeouts, …), and Outbox takes its own
 * parameters `?poolSize=N`, `?maxMessages=N` and `?maxConnectionAge=5m`.
 */
export function smtpSettingsFromUrl(url: URL, defaults: ConnectionLimits): SmtpSettings {
  const own: Record<string, unknown> = {}
  for (const key of ['poolSize', 'maxMessages', 'maxConnectionAge']) {
    const value = url.searchParams.get(key)
    if (value !== null) own[key] = value
    url.searchParams.delete(key)
  }
  return smtpSettingsFromOptions({ ...parseConnectionUrl(url.toString()), ...own }, defaults)
}
