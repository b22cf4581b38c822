import nodemailer from 'nodemailer'
import type { SendMailOptions, Transport, Transporter } from 'nodemailer'
import { ConfigError } from '../errors.js'
import {
  classifyDeliveryError,
  describeDeliveryError,
  upstreamProblemReason,
  type FailureKind,
} from './classify-error.js'
import {
  newSmtpProgress,
  NO_PROGRESS,
  PROGRESS_OPTION,
  trackSmtpProgress,
} from './smtp-progress.js'

/**
 * Where mail goes:
 * - `'capture'`: nowhere; messages are marked sent-as-captured and kept for inspection (the
 *   default when nothing is configured, so development never mails real people).
 * - `'smtp://user:pass@host:587'` / `'smtps://…:465'`: a pooled Nodemailer SMTP transport.
 * - a Nodemailer transport (`{ name, version, send() }`) or transporter (`createTransport(…)`).
 * - Nodemailer SMTP options (`{ host, port, auth, secure }`).
 */
export type UpstreamSpec = string | Transport | Transporter | Record<string, unknown>

/** One message as handed to the upstream. */
export interface OutgoingMessage {
  id: string
  messageId: string
  from: string
  recipients: string[]
  raw: Buffer
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

/** SMTP allows a client to be refused past 100 recipients per transaction (RFC 5321 4.5.3.1.8). */
export const MAX_RECIPIENTS_PER_TRANSACTION = 100

/** Options for connecting to the upstream. */
export interface UpstreamOptions {
  /** Connections in the SMTP pool; set to the worker's concurrency. */
  maxConnections: number
}

/** Removes the password from a URL for logs and `outbox config`; leaves the rest as written. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/?#]*):[^@/?#]*@/i, '$1:***@')
}

/**
 * Pool settings for SMTP upstreams. Outbox does its own retries, so Nodemailer's silent
 * requeue of a message on a dropped connection is off (it would resend a message the server
 * may already have, with no trace in the attempt log).
 */
function poolOptions(maxConnections: number): Record<string, unknown> {
  return {
    pool: true,
    maxConnections,
    maxMessages: Infinity,
    maxRequeues: 0,
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 120_000,
    logger: false,
  }
}

/** `?poolSize=N`: SMTP connections, instead of the worker's concurrency. */
function poolSizeOf(url: URL): number | null {
  const value = url.searchParams.get('poolSize')
  if (value === null) return null
  const size = Number(value)
  if (!Number.isInteger(size) || size < 1 || size > 1000) {
    throw new ConfigError(
      'upstream',
      `\`upstream\` parameter poolSize must be a whole number from 1 to 1000, got ${JSON.stringify(value)}.`,
    )
  }
  return size
}

/** Creates the upstream for a spec. Throws {@link ConfigError} for a spec it cannot use. */
export function createUpstream(spec: UpstreamSpec | undefined, options: UpstreamOptions): Upstream {
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
    const maxConnections = poolSizeOf(url) ?? options.maxConnections
    // Outbox's own parameter; the rest (ignoreTLS, requireTLS, tls.*, timeouts) are Nodemailer's.
    url.searchParams.delete('poolSize')
    const transporter = nodemailer.createTransport({
      url: url.toString(),
      ...poolOptions(maxConnections),
    })
    return createTransporterUpstream('smtp', redactUrl(spec), transporter)
  }
  if (typeof spec === 'object' && spec !== null) {
    if ('sendMail' in spec && typeof spec.sendMail === 'function') {
      return createTransporterUpstream(
        'transport',
        describeTransport(spec as Transporter),
        spec as Transporter,
      )
    }
    if ('send' in spec && typeof spec.send === 'function') {
      const transporter = nodemailer.createTransport(spec as Transport)
      return createTransporterUpstream('transport', describeTransport(transporter), transporter)
    }
    if ('host' in spec || 'url' in spec || 'service' in spec) {
      const transporter = nodemailer.createTransport({
        ...poolOptions(options.maxConnections),
        ...spec,
      })
      const host =
        typeof spec.host === 'string'
          ? spec.host
          : typeof spec.url === 'string'
            ? redactUrl(spec.url)
            : 'smtp'
      return createTransporterUpstream('smtp', `smtp (${host})`, transporter)
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

interface SentInfo {
  accepted?: unknown[]
  rejected?: unknown[]
  rejectedErrors?: (Error & { recipient?: string; responseCode?: number; response?: string })[]
  response?: unknown
}

/**
 * Nodemailer's per-recipient refusals (RCPT TO replies), by lower-cased address. A refusal of
 * one recipient is about that recipient, so even a 421 there only defers it.
 */
function refusalsByRecipient(errors: SentInfo['rejectedErrors']): Map<string, RecipientResult> {
  const byAddress = new Map<string, RecipientResult>()
  for (const err of errors ?? []) {
    const c = classifyDeliveryError(err, { ...NO_PROGRESS, transaction: true })
    const address = err.recipient ?? ''
    byAddress.set(address.toLowerCase(), {
      address,
      disposition: c.kind === 'permanent' ? 'permanent' : 'temporary',
      code: c.code,
      reply: err.response ?? err.message,
    })
  }
  return byAddress
}

/** A report with nothing wrong; the fields of a failure are set over it. */
const OK_REPORT: Readonly<DeliveryReport> = Object.freeze({
  recipients: [],
  upstreamDown: null,
  misconfigured: false,
  closing: false,
  uncertain: false,
  error: null,
  captured: false,
})

const addressOf = (entry: unknown): string =>
  typeof entry === 'string'
    ? entry
    : entry && typeof entry === 'object' && 'address' in entry
      ? String(entry.address)
      : ''

function createTransporterUpstream(
  kind: 'smtp' | 'transport',
  description: string,
  transporter: Transporter,
): Upstream {
  // Tells, when a send fails, whether the final dot had been written (see smtp-progress.ts).
  trackSmtpProgress(transporter)

  /** Sends one SMTP transaction (at most 100 recipients) and reports per recipient. */
  async function sendChunk(message: OutgoingMessage, chunk: string[]): Promise<DeliveryReport> {
    const progress = newSmtpProgress()
    try {
      const info = (await transporter.sendMail({
        envelope: { from: message.from, to: chunk },
        raw: message.raw,
        // The stored Message-ID: otherwise Nodemailer makes up one for its report (five calls
        // to the CSPRNG per message, some 8 % of the worker's own CPU in the benchmark).
        // Raw bytes are sent as they are: this adds no header.
        messageId: message.messageId,
        [PROGRESS_OPTION]: progress,
      } as SendMailOptions)) as SentInfo
      const reply = typeof info.response === 'string' ? info.response : 'accepted'
      const rejected = refusalsByRecipient(info.rejectedErrors)
      for (const entry of info.rejected ?? []) {
        const address = addressOf(entry)
        if (!rejected.has(address.toLowerCase())) {
          rejected.set(address.toLowerCase(), {
            address,
            disposition: 'permanent',
            code: null,
            reply: 'rejected',
          })
        }
      }
      const recipients = chunk.map((address): RecipientResult => {
        const refusal = rejected.get(address.toLowerCase())
        return refusal
          ? { ...refusal, address }
          : { address, disposition: 'accepted', code: 250, reply }
      })
      return { ...OK_REPORT, recipients }
    } catch (error) {
      const e = error as Error & { rejectedErrors?: SentInfo['rejectedErrors']; response?: string }
      const c = classifyDeliveryError(e, progress)
      const summary = describeDeliveryError(e)
      if (c.kind === 'upstream-down' || c.kind === 'misconfigured') {
        const reason = upstreamProblemReason(c, summary)
        return {
          ...OK_REPORT,
          recipients: chunk.map((address) => ({
            address,
            disposition: 'upstream-down',
            code: c.code,
            reply: reason,
          })),
          upstreamDown: reason,
          misconfigured: c.kind === 'misconfigured',
          error: reason,
        }
      }
      // Every recipient refused: Nodemailer reports each refusal, which may differ (550 vs 451).
      const perRecipient = refusalsByRecipient(e.rejectedErrors)
      const failure = c.kind
      return {
        ...OK_REPORT,
        recipients: chunk.map((address) => {
          const own = perRecipient.get(address.toLowerCase())
          return own
            ? { ...own, address }
            : { address, disposition: failure, code: c.code, reply: e.response ?? summary }
        }),
        closing: c.closing,
        uncertain: c.uncertain,
        error: summary,
      }
    }
  }

  return {
    kind,
    description,
    async deliver(message) {
      const report: DeliveryReport = { ...OK_REPORT, recipients: [] }
      for (let i = 0; i < message.recipients.length; i += MAX_RECIPIENTS_PER_TRANSACTION) {
        const chunk = message.recipients.slice(i, i + MAX_RECIPIENTS_PER_TRANSACTION)
        if (report.upstreamDown) {
          // No point trying the next transaction on an upstream that just went away.
          for (const address of chunk) {
            report.recipients.push({
              address,
              disposition: 'upstream-down',
              code: null,
              reply: report.upstreamDown,
            })
          }
          continue
        }
        const part = await sendChunk(message, chunk)
        report.recipients.push(...part.recipients)
        report.upstreamDown ??= part.upstreamDown
        report.misconfigured ||= part.misconfigured
        report.closing ||= part.closing
        report.uncertain ||= part.uncertain
        report.error ??= part.error
      }
      return report
    },
    async probe() {
      const t = transporter as Transporter & { verify?: () => Promise<unknown> }
      // A transport without verify() cannot be probed; trying a message is the probe then.
      if (typeof t.verify === 'function' && kind === 'smtp') await t.verify()
      else if (typeof t.verify === 'function') {
        try {
          await t.verify()
        } catch (error) {
          if (!/verify|not supported|not implemented/i.test(String((error as Error).message)))
            throw error
        }
      }
    },
    async close() {
      transporter.close()
    },
  }
}
