import nodemailer from 'nodemailer'
import type { Transport, Transporter } from 'nodemailer'
import { ConfigError } from '../errors.js'
import { silentLogger, type Logger } from '../logger.js'
import type { FailureKind } from './classify-error.js'
import { DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from './smtp-connections.js'
import { smtpSettingsFromOptions, smtpSettingsFromUrl } from './smtp-settings.js'
import { createSmtpUpstream } from './smtp-upstream.js'
import { createTransporterUpstream } from './transporter-upstream.js'

export { MAX_RECIPIENTS_PER_TRANSACTION } from './delivery-report.js'

/**
 * Where mail goes:
 * - `'capture'`: nowhere; messages are marked sent-as-captured and kept for inspection (the
 *   default when nothing is configured, so development never mails real people).
 * - `'smtp://user:pass@host:587'` / `'smtps://…:465'`: Outbox's own SMTP connections.
 * - Nodemailer SMTP options (`{ host, port, auth, secure }`): the same, set up like Nodemailer's.
 * - a Nodemailer transport (`{ name, version, send() }`) or transporter (`createTransport(…)`).
 */
export type UpstreamSpec = string | Transport | Transporter | Record<string, unknown>

/** One message as handed to the upstream. */
export interface OutgoingMessage {
  id: string
  messageId: string
  from: string
  recipients: string[]
  raw: Buffer
  /** It has 8-bit data (see `transportNeeds`); read from `raw` when not given. */
  eightBit?: boolean | null
  /** An envelope address is not ASCII; read from the addresses when not given. */
  smtpUtf8?: boolean | null
}

/** What the upstream said about one recipient. */
export interface RecipientResult {
  address: string
  disposition: 'accepted' | Exclude<FailureKind, 'misconfigured'>
  code: number | null
  reply: string
}

/** The upstream's answer to one delivery. */
export interface DeliveryReport {
  recipients: RecipientResult[]
  /**
   * Set when the upstream could not be reached or used: the reason. No recipient was settled
   * by it.
   */
  upstreamDown: string | null
  /** With `upstreamDown`: it is misconfigured (waiting will not help); the reason says the fix. */
  misconfigured: boolean
  /** The server closed the connection with a 421 in this message's transaction. */
  closing: boolean
  /** The final dot was written and no reply came (see classifyDeliveryError). */
  uncertain: boolean
  /** Summary of the first error, if any. */
  error: string | null
  /** Delivered to the capture upstream. */
  captured: boolean
}

/** An upstream as the worker uses it. */
export interface Upstream {
  /** `capture`, `smtp` or `transport`; for logs. */
  readonly kind: 'capture' | 'smtp' | 'transport'
  /** Where mail goes, with credentials removed; for logs. */
  readonly description: string
  deliver(message: OutgoingMessage): Promise<DeliveryReport>
  /** Resolves if the upstream accepts a connection (and login); rejects otherwise. */
  probe(): Promise<void>
  close(): Promise<void>
}

/** Options for connecting to the upstream. */
export interface UpstreamOptions {
  /** Most SMTP connections at once; set to the worker's concurrency (`?poolSize=N` overrides). */
  maxConnections: number
  /** Messages per SMTP connection (`?maxMessages=N` overrides). @default 100 */
  maxMessagesPerConnection?: number
  /** Age after which an SMTP connection takes no new message (`?maxConnectionAge=` overrides). @default 300_000 */
  maxConnectionAgeMs?: number
  /** Where connection limits learned from the upstream are logged. */
  logger?: Logger
}

/** Removes the password from a URL for logs and `outbox config`; leaves the rest as written. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/?#]*):[^@/?#]*@/i, '$1:***@')
}

/** Creates the upstream for a spec. Throws {@link ConfigError} for a spec it cannot use. */
export function createUpstream(spec: UpstreamSpec | undefined, options: UpstreamOptions): Upstream {
  const limits: ConnectionLimits = {
    maxConnections: options.maxConnections,
    maxMessages: options.maxMessagesPerConnection ?? DEFAULT_CONNECTION_LIMITS.maxMessages,
    maxAgeMs: options.maxConnectionAgeMs ?? DEFAULT_CONNECTION_LIMITS.maxAgeMs,
  }
  const logger = options.logger ?? silentLogger
  if (spec === undefined || spec === 'capture') return createCaptureUpstream()
  if (typeof spec === 'string') {
    let url: URL
    try {
      url = new URL(spec)
    } catch {
      throw new ConfigError(
        'upstream',
        `\`upstream\` ${JSON.stringify(redactUrl(spec))} is not a URL; expected smtp://user:pass@host:port, smtps://…, or capture.`,
      )
    }
    if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
      throw new ConfigError(
        'upstream',
        `\`upstream\` has the unsupported scheme ${url.protocol}; expected smtp:, smtps: or capture.`,
      )
    }
    if (!url.hostname) {
      throw new ConfigError('upstream', '`upstream` has no host name; expected smtp://host:port.')
    }
    return createSmtpUpstream(smtpSettingsFromUrl(url, limits), redactUrl(spec), logger)
  }
  if (typeof spec === 'object' && spec !== null) {
    if ('sendMail' in spec && typeof spec.sendMail === 'function') {
      return createTransporterUpstream(describeTransport(spec as Transporter), spec as Transporter)
    }
    if ('send' in spec && typeof spec.send === 'function') {
      const transporter = nodemailer.createTransport(spec as Transport)
      return createTransporterUpstream(describeTransport(transporter), transporter)
    }
    if ('host' in spec || 'url' in spec || 'service' in spec) {
      const host =
        typeof spec.host === 'string'
          ? spec.host
          : typeof spec.url === 'string'
            ? redactUrl(spec.url)
            : typeof spec.service === 'string'
              ? spec.service
              : 'smtp'
      return createSmtpUpstream(smtpSettingsFromOptions(spec, limits), `smtp (${host})`, logger)
    }
  }
  throw new ConfigError(
    'upstream',
    '`upstream` must be "capture", an smtp:// or smtps:// URL, SMTP options ({ host, port, auth }), ' +
      'or a Nodemailer transport.',
  )
}

function describeTransport(transporter: Transporter): string {
  const t = (transporter as unknown as { transporter?: { name?: string } }).transporter
  return `transport ${t?.name ?? 'custom'}`
}

function createCaptureUpstream(): Upstream {
  return {
    kind: 'capture',
    description: 'capture (kept in the queue, not sent)',
    async deliver(message) {
      return {
        recipients: message.recipients.map((address) => ({
          address,
          disposition: 'accepted' as const,
          code: null,
          reply: 'captured: not sent, no upstream is configured',
        })),
        upstreamDown: null,
        misconfigured: false,
        closing: false,
        uncertain: false,
        error: null,
        captured: true,
      }
    },
    async probe() {},
    async close() {},
  }
}
