import { z } from 'zod'
import { parseDuration } from './duration.js'
import { parseRateLimit, type RateLimit } from './rate-limit.js'
import { parseSize } from './size.js'

/**
 * The configuration of the `outbox` command, whatever its source (file, environment, flags).
 * Every key has a default; see {@link CONFIG_KEYS} for where each can be set.
 */
export interface OutboxConfig {
  /** Where the queue lives. */
  store: string
  /** Where mail goes: `capture`, `smtp://…`, `smtps://…`. */
  upstream: string
  /** Messages delivered at once by a worker (and SMTP connections). */
  concurrency: number
  /** Messages one SMTP connection to the upstream carries before it is replaced. */
  upstreamMaxMessagesPerConnection: number
  /** Age after which an SMTP connection to the upstream takes no new message (ms). */
  upstreamMaxConnectionAgeMs: number
  /** A temporarily failing message fails as expired after this long (ms). */
  maxAgeMs: number
  /** Largest accepted message, in bytes. */
  maxMessageSize: number
  /** Lease on a message being sent (ms). */
  leaseMs: number
  /** First retry delay (ms). */
  retryInitialDelayMs: number
  /** Longest retry delay (ms). */
  retryMaxDelayMs: number
  /**
   * Most messages sent per period through the default upstream, by every worker on the store
   * together, or null for no limit.
   */
  rateLimit: RateLimit | null
  /** Named upstreams beside the default one, as written (validated with the routes). */
  upstreams: Record<string, unknown> | null
  /** Which mail goes through which upstream, first match wins, as written. */
  routes: unknown[] | null
  /** Most messages per period to a recipient domain, by every worker together, as written. */
  domainLimits: Record<string, unknown> | null
  /** DKIM signing keys, one per domain, as written (validated, and the keys read, at start). */
  dkim: unknown[] | null
  /** Domain bounces come back to (VERP envelope senders), or null: bounces are not tracked. */
  bouncesDomain: string | null
  /** Key signing the bounce addresses (at least 16 characters). */
  bouncesSecret: string | null
  /** HTTP endpoints receiving events of the log, as written (validated at start). */
  webhooks: unknown[] | null
  /** Events older than this are deleted from the log (ms). */
  eventsMaxAgeMs: number
  /** Language used when a template is not in the one asked for (or none was asked), or null: no fallback. */
  templatesDefaultLanguage: string | null
  /** Sender of templated mail that names none, or null: `from` is required. */
  templatesFrom: string | null
  /** Inline the `<style>` rules of templates' HTML into `style` attributes (for mail clients that drop `<style>`). */
  templatesInlineCss: boolean
  /** Address the SMTP listener binds (`host:port`). */
  smtpListen: string
  /** Address for implicit TLS (SMTPS), or null for none. */
  smtpTlsListen: string | null
  /** PEM files of the listener's TLS key and certificate (STARTTLS is offered only with both). */
  smtpTlsKey: string | null
  smtpTlsCert: string | null
  /** Networks allowed to submit without AUTH. */
  smtpAllowNetworks: string[]
  /** Users allowed to AUTH, with scrypt hashes (`outbox hash-password`). */
  smtpUsers: { username: string; passwordHash: string }[]
  /** Most recipients per message accepted over SMTP. */
  smtpMaxRecipients: number
  /** SMTP clients connected at once, in all. */
  smtpMaxClients: number
  /** SMTP connections at once from one client (address, IPv6 /64) outside the allowed networks. */
  smtpConnectionsPerClient: number
  /** Percentage of the SMTP client slots that clients outside the allowed networks may hold together. */
  smtpOutsideClientShare: number
  /** Longest an SMTP client may take to send its next complete command line (ms). */
  smtpCommandTimeoutMs: number
  /** Longest from connecting (or the previous message) to the DATA command (ms). */
  smtpEnvelopeTimeoutMs: number
  /** Longest an SMTP client may take to send a message's DATA (ms). */
  smtpDataTimeoutMs: number
  /** Address the HTTP API and dashboard bind (`host:port`), or null for none (`outbox start`). */
  httpListen: string | null
  /** Bearer token of the HTTP API and dashboard; required to listen beyond loopback. */
  adminToken: string | null
  /** pino log level. */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  /**
   * The log file, rotated by size, or null: long-running commands log to stdout, one-shot
   * commands to stderr.
   */
  logFile: string | null
  /** Size in bytes past which the log file (and the failure log) is rotated. */
  logMaxSize: number
  /**
   * Files kept of each log, the current one included: `outbox.log`, then `outbox.log.1` (the
   * newest rotated) up to `outbox.log.<maxFiles - 1>`; older ones are deleted.
   */
  logMaxFiles: number
  /** File of one JSON line per message that failed for good, or null for none. */
  logFailedFile: string | null
}

/** How each key is written in the config file, the environment and on the command line. */
export interface ConfigKey {
  /** Dotted path in `outbox.config.json`. */
  file: string
  env: string
  flag: string
  /** What a valid value looks like, for error messages. */
  expected: string
  /** Parses one raw value (string from env/flags, any JSON value from the file). */
  parse: z.ZodType<unknown>
  /** Contains a secret: redact it when printing. */
  secret?: boolean
}

const text = z.string().trim().min(1)
const duration = (min: number) =>
  z.union([z.number(), z.string()]).transform((v, ctx) => {
    const ms = parseDuration(v)
    if (ms === undefined || ms < min) {
      ctx.addIssue({ code: 'custom', message: 'invalid duration' })
      return z.NEVER
    }
    return ms
  })
const size = (min: number) =>
  z.union([z.number(), z.string()]).transform((v, ctx) => {
    const bytes = parseSize(v)
    if (bytes === undefined || bytes < min) {
      ctx.addIssue({ code: 'custom', message: 'invalid size' })
      return z.NEVER
    }
    return bytes
  })
const wholeNumber = (min: number, max: number) =>
  z
    .union([z.number(), z.string().regex(/^\s*\d+\s*$/)])
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
/** A JSON value: as itself in the config file, as JSON text in the environment or a flag. */
const json = <T extends z.ZodType>(shape: T) =>
  z
    .union([
      z.string().transform((v, ctx) => {
        try {
          return JSON.parse(v) as unknown
        } catch {
          ctx.addIssue({ code: 'custom', message: 'invalid JSON' })
          return z.NEVER
        }
      }),
      z.unknown(),
    ])
    .pipe(z.union([shape, z.null()]))
const listenAddress = text.regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:]+):\d{1,5}$/)

export const CONFIG_KEYS: Record<keyof OutboxConfig, ConfigKey> = {
  store: {
    file: 'store',
    env: 'OUTBOX_STORE',
    flag: '--store',
    expected: 'a store URL such as sqlite:./outbox.db',
    parse: text.regex(/^[a-z][a-z0-9+.-]*:/i),
    secret: true,
  },
  upstream: {
    file: 'upstream',
    env: 'OUTBOX_UPSTREAM',
    flag: '--upstream',
    expected: 'capture, or an smtp:// or smtps:// URL',
    parse: text.refine((v) => v === 'capture' || /^smtps?:\/\/[^/\s]+/.test(v)),
    secret: true,
  },
  concurrency: {
    file: 'concurrency',
    env: 'OUTBOX_CONCURRENCY',
    flag: '--concurrency',
    expected: 'a whole number from 1 to 1000',
    parse: wholeNumber(1, 1000),
  },
  upstreamMaxMessagesPerConnection: {
    file: 'upstreamConnection.maxMessages',
    env: 'OUTBOX_UPSTREAM_CONNECTION_MAX_MESSAGES',
    flag: '--upstream-connection-max-messages',
    expected: 'a whole number from 1 to 1000000',
    parse: wholeNumber(1, 1_000_000),
  },
  upstreamMaxConnectionAgeMs: {
    file: 'upstreamConnection.maxAge',
    env: 'OUTBOX_UPSTREAM_CONNECTION_MAX_AGE',
    flag: '--upstream-connection-max-age',
    expected: 'a duration of at least 1s, such as 5m',
    parse: duration(1000),
  },
  maxAgeMs: {
    file: 'maxAge',
    env: 'OUTBOX_MAX_AGE',
    flag: '--max-age',
    expected: 'a duration of at least 1s, such as 30s, 15m, 24h or 7d',
    parse: duration(1000),
  },
  maxMessageSize: {
    file: 'maxMessageSize',
    env: 'OUTBOX_MAX_MESSAGE_SIZE',
    flag: '--max-message-size',
    expected: 'a size of at least 1KB, such as 512KB, 25MB or 26214400',
    parse: size(1024),
  },
  leaseMs: {
    file: 'leaseDuration',
    env: 'OUTBOX_LEASE_DURATION',
    flag: '--lease-duration',
    expected: 'a duration of at least 1s, such as 60s',
    parse: duration(1000),
  },
  retryInitialDelayMs: {
    file: 'retry.initialDelay',
    env: 'OUTBOX_RETRY_INITIAL_DELAY',
    flag: '--retry-initial-delay',
    expected: 'a duration, such as 30s',
    parse: duration(1),
  },
  retryMaxDelayMs: {
    file: 'retry.maxDelay',
    env: 'OUTBOX_RETRY_MAX_DELAY',
    flag: '--retry-max-delay',
    expected: 'a duration, such as 30m',
    parse: duration(1),
  },
  rateLimit: {
    file: 'rateLimit',
    env: 'OUTBOX_RATE_LIMIT',
    flag: '--rate-limit',
    expected: 'a rate such as 10/s, 600/m or 20000/h, or none',
    parse: z.union([z.string(), z.null()]).transform((v, ctx) => {
      if (v === null || v === 'none' || v === '') return null
      const limit = parseRateLimit(v)
      if (!limit) {
        ctx.addIssue({ code: 'custom', message: 'invalid rate' })
        return z.NEVER
      }
      return limit
    }),
  },
  upstreams: {
    file: 'upstreams',
    env: 'OUTBOX_UPSTREAMS',
    flag: '--upstreams',
    expected:
      'an object of named upstreams (JSON in the environment), such as {"ses":{"url":"smtp://…","rateLimit":"14/s"}}',
    parse: json(z.record(z.string(), z.unknown())),
    secret: true,
  },
  routes: {
    file: 'routes',
    env: 'OUTBOX_ROUTES',
    flag: '--routes',
    expected:
      'a list of routes (JSON in the environment), such as [{"match":{"to":"@gmail.com"},"upstream":"ses","fallback":["backup"]}]',
    parse: json(z.array(z.unknown())),
  },
  domainLimits: {
    file: 'domainLimits',
    env: 'OUTBOX_DOMAIN_LIMITS',
    flag: '--domain-limits',
    expected: 'an object of domain → rate (JSON in the environment), such as {"gmail.com":"100/m"}',
    parse: json(z.record(z.string(), z.unknown())),
  },
  dkim: {
    file: 'dkim',
    env: 'OUTBOX_DKIM',
    flag: '--dkim',
    expected:
      'a list of signing keys (JSON in the environment), such as [{"domain":"example.com","selector":"s1","privateKey":"file:/etc/outbox/s1.pem"}]',
    parse: json(z.array(z.unknown())),
    secret: true,
  },
  bouncesDomain: {
    file: 'bounces.domain',
    env: 'OUTBOX_BOUNCES_DOMAIN',
    flag: '--bounces-domain',
    expected: 'a domain whose MX points at this SMTP listener, such as bounces.example.com',
    parse: z.union([text, z.null()]),
  },
  bouncesSecret: {
    file: 'bounces.secret',
    env: 'OUTBOX_BOUNCES_SECRET',
    flag: '--bounces-secret',
    expected: 'a random secret of at least 16 characters, the same for every process',
    parse: z.union([text, z.null()]),
    secret: true,
  },
  webhooks: {
    file: 'webhooks',
    env: 'OUTBOX_WEBHOOKS',
    flag: '--webhooks',
    expected:
      'a list of endpoints (JSON in the environment), such as [{"url":"https://hooks.example.com/outbox","events":["failed","bounced"],"secret":"whsec_…"}]',
    parse: json(z.array(z.unknown())),
    secret: true,
  },
  eventsMaxAgeMs: {
    file: 'events.maxAge',
    env: 'OUTBOX_EVENTS_MAX_AGE',
    flag: '--events-max-age',
    expected: 'a duration of at least 1m, such as 7d',
    parse: duration(60_000),
  },
  templatesDefaultLanguage: {
    file: 'templates.defaultLanguage',
    env: 'OUTBOX_TEMPLATES_DEFAULT_LANGUAGE',
    flag: '--templates-default-language',
    expected: 'a language tag such as en or de-AT, or none',
    parse: z.union([
      z.literal('none').transform(() => null),
      z
        .string()
        .trim()
        .regex(/^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$/),
      z.null(),
    ]),
  },
  templatesFrom: {
    file: 'templates.from',
    env: 'OUTBOX_TEMPLATES_FROM',
    flag: '--templates-from',
    expected: 'a sender such as "Shop <shop@example.com>", or none',
    parse: z.union([z.literal('none').transform(() => null), text, z.null()]),
  },
  templatesInlineCss: {
    file: 'templates.inlineCss',
    env: 'OUTBOX_TEMPLATES_INLINE_CSS',
    flag: '--templates-inline-css',
    expected: 'true or false',
    parse: z.union([
      z.boolean(),
      z
        .enum(['true', 'false', '1', '0', 'yes', 'no'])
        .transform((v) => v === 'true' || v === '1' || v === 'yes'),
    ]),
  },
  smtpListen: {
    file: 'smtp.listen',
    env: 'OUTBOX_SMTP_LISTEN',
    flag: '--smtp-listen',
    expected: 'host:port, such as 127.0.0.1:2525 or [::1]:2525',
    parse: listenAddress,
  },
  smtpTlsListen: {
    file: 'smtp.tlsListen',
    env: 'OUTBOX_SMTP_TLS_LISTEN',
    flag: '--smtp-tls-listen',
    expected: 'host:port for implicit TLS, such as 127.0.0.1:4650, or none',
    parse: z.union([z.literal('none').transform(() => null), listenAddress, z.null()]),
  },
  smtpTlsKey: {
    file: 'smtp.tlsKey',
    env: 'OUTBOX_SMTP_TLS_KEY',
    flag: '--smtp-tls-key',
    expected: 'the path of a PEM private key',
    parse: z.union([text, z.null()]),
  },
  smtpTlsCert: {
    file: 'smtp.tlsCert',
    env: 'OUTBOX_SMTP_TLS_CERT',
    flag: '--smtp-tls-cert',
    expected: 'the path of a PEM certificate (chain)',
    parse: z.union([text, z.null()]),
  },
  smtpAllowNetworks: {
    file: 'smtp.allowNetworks',
    env: 'OUTBOX_SMTP_ALLOW_NETWORKS',
    flag: '--smtp-allow-networks',
    expected: 'networks in CIDR form, comma-separated, such as 127.0.0.0/8,::1/128,10.0.0.0/8',
    parse: z
      .union([
        z.string().transform((v) =>
          v
            .split(',')
            .map((n) => n.trim())
            .filter(Boolean),
        ),
        z.array(z.string()),
      ])
      .pipe(z.array(z.string().regex(/^(\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F:]+)(\/\d{1,3})?$/))),
  },
  smtpUsers: {
    file: 'smtp.users',
    env: 'OUTBOX_SMTP_USERS',
    flag: '--smtp-users',
    expected: 'user:hash pairs, comma-separated, with hashes from `outbox hash-password`',
    secret: true,
    parse: z
      .union([
        z.string().transform((v) =>
          v
            .split(',')
            .map((u) => u.trim())
            .filter(Boolean),
        ),
        z.array(
          z.union([z.string(), z.strictObject({ username: z.string(), passwordHash: z.string() })]),
        ),
      ])
      .transform((entries) =>
        entries.map((e) =>
          typeof e === 'string'
            ? { username: e.slice(0, e.indexOf(':')), passwordHash: e.slice(e.indexOf(':') + 1) }
            : e,
        ),
      )
      .pipe(
        z.array(
          z.object({ username: z.string().min(1), passwordHash: z.string().startsWith('scrypt$') }),
        ),
      ),
  },
  smtpMaxRecipients: {
    file: 'smtp.maxRecipients',
    env: 'OUTBOX_SMTP_MAX_RECIPIENTS',
    flag: '--smtp-max-recipients',
    expected: 'a whole number from 1 to 100000',
    parse: wholeNumber(1, 100_000),
  },
  smtpMaxClients: {
    file: 'smtp.maxClients',
    env: 'OUTBOX_SMTP_MAX_CLIENTS',
    flag: '--smtp-max-clients',
    expected: 'a whole number from 1 to 100000',
    parse: wholeNumber(1, 100_000),
  },
  smtpConnectionsPerClient: {
    file: 'smtp.connectionsPerClient',
    env: 'OUTBOX_SMTP_CONNECTIONS_PER_CLIENT',
    flag: '--smtp-connections-per-client',
    expected: 'a whole number from 1 to 100000',
    parse: wholeNumber(1, 100_000),
  },
  smtpOutsideClientShare: {
    file: 'smtp.outsideClientShare',
    env: 'OUTBOX_SMTP_OUTSIDE_CLIENT_SHARE',
    flag: '--smtp-outside-client-share',
    expected: 'a percentage from 0 to 100, such as 80%',
    parse: z
      .union([z.number(), z.string().regex(/^\s*\d+\s*%?\s*$/)])
      .transform((v) => (typeof v === 'number' ? v : Number(v.replace('%', ''))))
      .pipe(z.number().int().min(0).max(100)),
  },
  smtpCommandTimeoutMs: {
    file: 'smtp.commandTimeout',
    env: 'OUTBOX_SMTP_COMMAND_TIMEOUT',
    flag: '--smtp-command-timeout',
    expected: 'a duration of at least 1s, such as 60s',
    parse: duration(1000),
  },
  smtpEnvelopeTimeoutMs: {
    file: 'smtp.envelopeTimeout',
    env: 'OUTBOX_SMTP_ENVELOPE_TIMEOUT',
    flag: '--smtp-envelope-timeout',
    expected: 'a duration of at least 1s, such as 5m',
    parse: duration(1000),
  },
  smtpDataTimeoutMs: {
    file: 'smtp.dataTimeout',
    env: 'OUTBOX_SMTP_DATA_TIMEOUT',
    flag: '--smtp-data-timeout',
    expected: 'a duration of at least 1s, such as 10m',
    parse: duration(1000),
  },
  httpListen: {
    file: 'http.listen',
    env: 'OUTBOX_HTTP_LISTEN',
    flag: '--http-listen',
    expected: 'host:port, such as 127.0.0.1:8025, or none',
    parse: z.union([z.literal('none').transform(() => null), listenAddress, z.null()]),
  },
  adminToken: {
    file: 'http.adminToken',
    env: 'OUTBOX_ADMIN_TOKEN',
    flag: '--admin-token',
    expected: 'a secret of at least 16 characters (e.g. from `openssl rand -hex 24`)',
    parse: z.union([z.string().trim().min(16), z.null()]),
    secret: true,
  },
  logLevel: {
    file: 'logLevel',
    env: 'OUTBOX_LOG_LEVEL',
    flag: '--log-level',
    expected: 'one of fatal, error, warn, info, debug, trace, silent',
    parse: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  },
  logFile: {
    file: 'log.file',
    env: 'OUTBOX_LOG_FILE',
    flag: '--log-file',
    expected: 'the path of the log file, such as /var/log/outbox/outbox.log',
    parse: z.union([text, z.null()]),
  },
  logMaxSize: {
    file: 'log.maxSize',
    env: 'OUTBOX_LOG_MAX_SIZE',
    flag: '--log-max-size',
    expected: 'a size of at least 16KB, such as 64KB, 5MB or 5242880',
    parse: size(16 * 1024),
  },
  logMaxFiles: {
    file: 'log.maxFiles',
    env: 'OUTBOX_LOG_MAX_FILES',
    flag: '--log-max-files',
    expected: 'a whole number from 2 to 1000 (files kept, the current one included)',
    parse: wholeNumber(2, 1000),
  },
  logFailedFile: {
    file: 'log.failedFile',
    env: 'OUTBOX_LOG_FAILED_FILE',
    flag: '--log-failed-file',
    expected: 'the path of the failure log, such as /var/log/outbox/failed.log',
    parse: z.union([text, z.null()]),
  },
}

/** What a new user gets: SQLite next to them, mail captured, everything on loopback. */
export const CONFIG_DEFAULTS: Readonly<OutboxConfig> = Object.freeze({
  store: 'sqlite:./outbox.db',
  upstream: 'capture',
  concurrency: 10,
  upstreamMaxMessagesPerConnection: 100,
  upstreamMaxConnectionAgeMs: 5 * 60_000,
  maxAgeMs: 24 * 3_600_000,
  maxMessageSize: 25 * 1024 * 1024,
  leaseMs: 60_000,
  retryInitialDelayMs: 30_000,
  retryMaxDelayMs: 30 * 60_000,
  rateLimit: null,
  upstreams: null,
  routes: null,
  domainLimits: null,
  dkim: null,
  smtpListen: '127.0.0.1:2525',
  bouncesDomain: null,
  bouncesSecret: null,
  webhooks: null,
  eventsMaxAgeMs: 7 * 86_400_000,
  templatesDefaultLanguage: null,
  templatesFrom: null,
  templatesInlineCss: false,
  smtpTlsListen: null,
  smtpTlsKey: null,
  smtpTlsCert: null,
  smtpAllowNetworks: ['127.0.0.0/8', '::1/128'],
  smtpUsers: [],
  smtpMaxRecipients: 1000,
  smtpMaxClients: 100,
  smtpConnectionsPerClient: 10,
  smtpOutsideClientShare: 80,
  smtpCommandTimeoutMs: 60_000,
  smtpEnvelopeTimeoutMs: 5 * 60_000,
  smtpDataTimeoutMs: 10 * 60_000,
  httpListen: '127.0.0.1:8025',
  adminToken: null,
  logLevel: 'info',
  logFile: null,
  logMaxSize: 5 * 1024 * 1024,
  logMaxFiles: 5,
  logFailedFile: null,
})
