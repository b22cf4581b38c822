import { z } from 'zod'
import { ConfigError } from '../errors.js'
import type { UpstreamSpec } from '../delivery/upstream.js'
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../delivery/retry-schedule.js'
import { DEFAULT_CONNECTION_LIMITS } from '../delivery/smtp-connections.js'
import { DEFAULT_PROBE_POLICY, type ProbePolicy } from '../delivery/upstream-health.js'
import type { Logger } from '../logger.js'
import { silentLogger } from '../logger.js'
import type { Store } from '../store/store.js'
import { parseDuration } from './duration.js'
import { parseRateLimit, type RateLimit } from './rate-limit.js'
import { normaliseLanguage } from '../templates/template-names.js'
import { resolveRoutingSettings, type RoutingSettings } from './routing-settings.js'
import {
  resolveWebhookSettings,
  type WebhookInput,
  type WebhookSetting,
} from '../webhooks/webhook-settings.js'
import { resolveDkimSettings, type DkimKeyInput, type DkimSettings } from './dkim-settings.js'

/** A duration: milliseconds, or text with a unit (`250ms`, `30s`, `15m`, `24h`, `7d`). */
export type Duration = number | string

/** Options of {@link createOutbox}. Every one has a default. */
export interface OutboxOptions {
  /**
   * Where the queue lives: `sqlite:PATH` (e.g. `sqlite:./outbox.db`, `sqlite::memory:`), or a
   * {@link Store} object.
   * @default 'sqlite:./outbox.db'
   */
  store?: string | Store
  /**
   * Where mail goes: `capture` (kept, not sent), `smtp://user:pass@host:port`, `smtps://…`,
   * Nodemailer SMTP options, or any Nodemailer transport.
   * @default 'capture'
   */
  upstream?: UpstreamSpec
  /**
   * Largest message accepted by `send()`, in bytes, after MIME encoding.
   * @default 26214400 (25 MB)
   */
  maxMessageSize?: number
  /**
   * How long a message keeps being retried after it became due; then it fails as `expired`.
   * @default '24h'
   */
  maxAge?: Duration
  /** Spacing of retries after temporary failures. */
  retry?: {
    /** @default '30s' */
    initialDelay?: Duration
    /** @default '30m' */
    maxDelay?: Duration
    /** @default 2 */
    factor?: number
    /** Fraction of each delay drawn at random. @default 0.2 */
    jitter?: number
  }
  /** Probing an upstream found down. */
  upstreamProbe?: {
    /** @default '1s' */
    initialDelay?: Duration
    /** @default '1m' */
    maxDelay?: Duration
  }
  /**
   * How long a worker's claim on a message lasts without renewal; a crashed worker's messages
   * are taken over after this. Renewed every third of it while sending.
   * @default '60s'
   */
  leaseDuration?: Duration
  /**
   * Most messages sent per period through the default upstream (`upstream`), by every worker
   * of every process on the store together, as `10/s`, `600/m` or `20000/h`, or
   * `{ count, perMs }`. No limit when unset.
   */
  rateLimit?: string | RateLimit | null
  /**
   * More upstreams, by name, beside the default one (`upstream`, named `default`): each with its
   * own connections, breaker and (shared) rate limit. A bare spec is an upstream with no limits.
   * @example { ses: { url: 'smtp://…', rateLimit: '14/s', maxConnections: 5 }, backup: 'smtp://…' }
   */
  upstreams?: Record<string, UpstreamSpec | NamedUpstreamOptions>
  /**
   * Which mail goes through which upstream: the first route whose `match` fits (sender, tag,
   * recipient; a recipient pattern picks those recipients only) wins, else `default`. When the
   * route's upstream is down, its `fallback` upstreams are tried in order, at once.
   * A message's own `upstream` send option overrides them.
   */
  routes?: RouteOptions[]
  /**
   * Most messages per period to a recipient domain, by every worker together, whatever the
   * upstream: `{ 'gmail.com': '100/m' }`. A message is split per limited domain.
   */
  domainLimits?: Record<string, string | RateLimit>
  /**
   * DKIM signing keys, one per domain. Mail whose From domain (or a parent domain of it) has a
   * key is signed when it is enqueued, whatever the ingress, so the stored bytes are the bytes
   * sent. Every key is read and checked by `createOutbox()`: a bad one is a `ConfigError`.
   * @example [{ domain: 'example.com', selector: 's1', privateKey: 'file:/etc/outbox/s1.pem' }]
   */
  dkim?: DkimKeyInput[]
  /**
   * Track bounces that come back after the upstream accepted a message: each recipient is sent
   * with its own envelope sender `bounces+<token>@<domain>` (VERP, signed with `secret`), and the
   * SMTP listener takes delivery reports and complaints for `domain` from any network, recording
   * them on the message and feeding the suppression list. Point the domain's MX at the listener.
   */
  bounces?: BounceAddressSettings
  /**
   * HTTP endpoints that receive events of the log (`failed`, `bounced`, …), signed as the
   * Standard Webhooks specification describes, delivered by the workers at least once, in order,
   * in batches, retried with backoff for 24 h. Checked by `createOutbox()`: a bad one is a
   * `ConfigError` with one line per problem.
   * @example [{ url: 'https://hooks.example.com/outbox', events: ['failed', 'bounced'], secret: 'whsec_…' }]
   */
  webhooks?: WebhookInput[]
  /** The event log every state change writes to. */
  events?: {
    /** Events older than this are deleted (a message's events also go when it is purged). @default '7d' */
    maxAge?: Duration
  }
  /** Stored templates (`send({ template, language, context, to })`). */
  templates?: {
    /**
     * The language used when a template is not in the one asked for (after trying its base
     * language: `de` for `de-AT`), or when none is asked. @default none: an error
     */
    defaultLanguage?: string | null
    /** The sender of templated mail that names none. @default none: `from` is required */
    from?: string | null
    /** Inline `<style>` rules into `style` attributes of the rendered HTML. @default false */
    inlineCss?: boolean
  }
  /**
   * Default worker concurrency, and the most SMTP connections to the upstream (fewer if the
   * upstream refuses more: Outbox learns its limit).
   * @default 10
   */
  concurrency?: number
  /**
   * How long one SMTP connection to the upstream is used, as Postfix's SMTP client limits
   * connection reuse: a change on the upstream (a reload, a new access map, a load balancer
   * rotation) reaches Outbox within this even under steady traffic. `?maxMessages=N` and
   * `?maxConnectionAge=5m` in the upstream URL override them.
   */
  upstreamConnection?: {
    /** Messages one connection carries before it is replaced. @default 100 */
    maxMessages?: number
    /** A connection this old takes no further message. @default '5m' */
    maxAge?: Duration
  }
  /** A pino-compatible logger. Outbox is silent without one. */
  logger?: Logger
}

/** {@link OutboxOptions.bounces}. */
export interface BounceAddressSettings {
  /** The domain bounces come back to; its MX points at the SMTP listener. */
  domain: string
  /** Key signing the bounce addresses, at least 16 characters, the same for every process. */
  secret: string
  /** Local part before the `+`. @default 'bounces' */
  localPart?: string
}

/** A named upstream of {@link OutboxOptions.upstreams}. */
export interface NamedUpstreamOptions {
  url: UpstreamSpec
  /** Most sends at once through it from one process. @default the concurrency */
  maxConnections?: number
  /** Most messages per period through it, by every worker together: `14/s`. */
  rateLimit?: string | RateLimit | null
}

/** One of {@link OutboxOptions.routes}. */
export interface RouteOptions {
  /** Addresses (`a@b.example`) or domains (`@b.example`), one or a list; every given field must match. */
  match?: { from?: string | string[]; to?: string | string[]; tag?: string | string[] }
  /** The upstream's name (`default` is the `upstream` option). */
  upstream: string
  /** Upstreams tried in order while it is down. */
  fallback?: string[]
}

/** Options after validation and defaults. Frozen. */
export interface ResolvedOptions {
  store: string | Store
  upstream: UpstreamSpec
  maxMessageSize: number
  maxAgeMs: number
  retry: RetryPolicy
  probe: ProbePolicy
  leaseMs: number
  concurrency: number
  upstreamConnection: { maxMessages: number; maxAgeMs: number }
  rateLimit: RateLimit | null
  routing: RoutingSettings<UpstreamSpec>
  dkim: DkimSettings
  /** Bounce tracking, or null when off. */
  bounces: BounceAddressSettings | null
  webhooks: readonly WebhookSetting[]
  eventsMaxAgeMs: number
  templates: { defaultLanguage: string | null; from: string | null; inlineCss: boolean }
  logger: Logger
}

const duration = (min: number) =>
  z.union([z.number(), z.string()]).transform((value, ctx) => {
    const ms = parseDuration(value)
    if (ms === undefined || ms < min) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a duration of at least ${min} ms, such as 30s, 15m, 24h or 7d`,
      })
      return z.NEVER
    }
    return ms
  })

const schema = z.strictObject({
  store: z
    .union([
      z.string().min(1),
      z.custom<Store>((v) => typeof v === 'object' && v !== null && 'claim' in v),
    ])
    .optional(),
  upstream: z.unknown().optional(),
  maxMessageSize: z.number().int().min(1024).optional(),
  maxAge: duration(1000).optional(),
  retry: z
    .strictObject({
      initialDelay: duration(1).optional(),
      maxDelay: duration(1).optional(),
      factor: z.number().min(1).max(10).optional(),
      jitter: z.number().min(0).max(1).optional(),
    })
    .optional(),
  upstreamProbe: z
    .strictObject({ initialDelay: duration(10).optional(), maxDelay: duration(10).optional() })
    .optional(),
  leaseDuration: duration(100).optional(),
  concurrency: z.number().int().min(1).max(1000).optional(),
  upstreamConnection: z
    .strictObject({
      maxMessages: z.number().int().min(1).max(1_000_000).optional(),
      maxAge: duration(100).optional(),
    })
    .optional(),
  rateLimit: z
    .union([
      z.null(),
      z.string().transform(
        (v, ctx) =>
          parseRateLimit(v) ??
          (ctx.addIssue({
            code: 'custom',
            message: 'expected a rate such as 10/s, 600/m or 20000/h',
          }),
          z.NEVER),
      ),
      z.strictObject({ count: z.number().int().min(1), perMs: z.number().int().min(1) }),
    ])
    .optional(),
  upstreams: z.unknown().optional(),
  routes: z.unknown().optional(),
  domainLimits: z.unknown().optional(),
  dkim: z.unknown().optional(),
  bounces: z
    .strictObject({
      domain: z
        .string()
        .regex(
          /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i,
          'expected a domain name such as bounces.example.com',
        )
        .transform((d) => d.toLowerCase()),
      secret: z.string().min(16, 'expected a secret of at least 16 characters'),
      localPart: z
        .string()
        .regex(/^[a-z0-9][a-z0-9._-]{0,30}$/, 'expected lower-case letters, digits, . _ or -')
        .optional(),
    })
    .optional(),
  webhooks: z.unknown().optional(),
  events: z.strictObject({ maxAge: duration(60_000).optional() }).optional(),
  templates: z
    .strictObject({
      defaultLanguage: z
        .union([
          z.null(),
          z
            .string()
            .trim()
            .transform((tag, ctx) => {
              try {
                return normaliseLanguage(tag)
              } catch {
                ctx.addIssue({
                  code: 'custom',
                  message: 'expected a language tag such as en or de-AT',
                })
                return z.NEVER
              }
            }),
        ])
        .optional(),
      from: z.union([z.null(), z.string().trim().min(1)]).optional(),
      inlineCss: z.boolean().optional(),
    })
    .optional(),
  logger: z
    .custom<Logger>(
      (v) =>
        typeof v === 'object' &&
        v !== null &&
        ['debug', 'info', 'warn', 'error'].every(
          (m) => typeof (v as Record<string, unknown>)[m] === 'function',
        ),
      'expected a pino-compatible logger with debug, info, warn and error methods',
    )
    .optional(),
})

/**
 * Throws the problems a group of options has (one line each, each starting with the option it
 * names) as one `ConfigError` naming the first option.
 */
function throwProblems(problems: readonly string[], option: string, group: string): void {
  if (problems.length === 0) return
  const first = problems[0]!
  throw new ConfigError(
    /^[^\s=:]+/.exec(first)?.[0] ?? option,
    problems.length === 1
      ? `Option ${first}.`
      : `${group} options have ${problems.length} problems:\n${problems.map((p) => `  ${p}`).join('\n')}`,
    { problems },
  )
}

/** Validates {@link OutboxOptions} and fills in defaults. Throws {@link ConfigError} naming the option. */
export function resolveOutboxOptions(options: OutboxOptions = {}): ResolvedOptions {
  const parsed = schema.safeParse(options)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    if (issue.code === 'unrecognized_keys') {
      const key = [...issue.path.map(String), issue.keys[0] ?? ''].join('.')
      throw new ConfigError(key, `Unknown option \`${key}\`.`)
    }
    const key = issue.path.map(String).join('.')
    const received = key
      .split('.')
      .reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], options)
    throw new ConfigError(
      key,
      `Option \`${key}\` is invalid: ${issue.message}; got ${JSON.stringify(received) ?? String(received)}.`,
    )
  }
  const o = parsed.data
  const retry: RetryPolicy = {
    initialDelayMs: o.retry?.initialDelay ?? DEFAULT_RETRY_POLICY.initialDelayMs,
    maxDelayMs: o.retry?.maxDelay ?? DEFAULT_RETRY_POLICY.maxDelayMs,
    factor: o.retry?.factor ?? DEFAULT_RETRY_POLICY.factor,
    jitter: o.retry?.jitter ?? DEFAULT_RETRY_POLICY.jitter,
  }
  if (retry.maxDelayMs < retry.initialDelayMs) {
    throw new ConfigError(
      'retry.maxDelay',
      'Option `retry.maxDelay` must not be shorter than `retry.initialDelay`.',
    )
  }
  const upstream = (o.upstream as UpstreamSpec | undefined) ?? 'capture'
  const rateLimit = o.rateLimit ?? null
  const routing = resolveRoutingSettings<UpstreamSpec>(
    { upstreams: o.upstreams, routes: o.routes, domainLimits: o.domainLimits },
    upstream,
    { fromFile: false, defaultRateLimit: rateLimit },
  )
  throwProblems(routing.problems, 'routes', 'Routing')
  const dkim = resolveDkimSettings(o.dkim)
  throwProblems(dkim.problems, 'dkim', 'DKIM')
  const webhooks = resolveWebhookSettings(o.webhooks)
  throwProblems(webhooks.problems, 'webhooks', 'Webhook')
  return Object.freeze({
    store: o.store ?? 'sqlite:./outbox.db',
    upstream,
    maxMessageSize: o.maxMessageSize ?? 25 * 1024 * 1024,
    maxAgeMs: o.maxAge ?? 24 * 3_600_000,
    retry: Object.freeze(retry),
    probe: Object.freeze({
      initialDelayMs: o.upstreamProbe?.initialDelay ?? DEFAULT_PROBE_POLICY.initialDelayMs,
      maxDelayMs: o.upstreamProbe?.maxDelay ?? DEFAULT_PROBE_POLICY.maxDelayMs,
    }),
    leaseMs: o.leaseDuration ?? 60_000,
    concurrency: o.concurrency ?? 10,
    upstreamConnection: Object.freeze({
      maxMessages: o.upstreamConnection?.maxMessages ?? DEFAULT_CONNECTION_LIMITS.maxMessages,
      maxAgeMs: o.upstreamConnection?.maxAge ?? DEFAULT_CONNECTION_LIMITS.maxAgeMs,
    }),
    rateLimit,
    routing: routing.settings,
    dkim: dkim.settings,
    bounces: o.bounces ? Object.freeze({ ...o.bounces }) : null,
    webhooks: webhooks.settings,
    eventsMaxAgeMs: o.events?.maxAge ?? 7 * 86_400_000,
    templates: Object.freeze({
      defaultLanguage: o.templates?.defaultLanguage ?? null,
      from: o.templates?.from ?? null,
      inlineCss: o.templates?.inlineCss ?? false,
    }),
    logger: o.logger ?? silentLogger,
  })
}
