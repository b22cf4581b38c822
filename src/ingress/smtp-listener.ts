import { parseListenAddress } from '../config/listen-address.js'
import { BlockList, isIPv6, type Socket } from 'node:net'
import { hostname as osHostname } from 'node:os'
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server'
import { ErrorCodes, InvalidMessageError, OutboxError } from '../errors.js'
import type { Logger } from '../logger.js'
import type { RawMessageInput } from '../message/compose-raw.js'
import { rfc5322Date } from '../message/rfc5322-date.js'
import type { SendResult } from '../message/types.js'
import { isValidAddress } from '../message/validate-mail.js'
import type { BounceIntake } from './bounce-intake.js'
import { createClientSlots } from './client-slots.js'
import { createConnectionGuard } from './connection-guard.js'
import { verifyPassword } from './password-hash.js'

/** Options of the SMTP listener (smarthost mode). */
export interface SmtpListenerOptions {
  /** `host:port` to listen on, e.g. `127.0.0.1:2525` or `[::1]:2525`. */
  listen: string
  /** TLS key and certificate (PEM). With them STARTTLS is offered; without, it is not. */
  tls?: { key: string | Buffer; cert: string | Buffer }
  /** `host:port` for implicit TLS (SMTPS), if wanted; needs `tls`. */
  tlsListen?: string
  /**
   * Networks (CIDR) allowed to submit without AUTH.
   * @default ['127.0.0.0/8', '::1/128']
   */
  allowNetworks?: string[]
  /** Users allowed to AUTH, with scrypt hashes made by `outbox hash-password`. */
  users?: { username: string; passwordHash: string }[]
  /** Largest message accepted, in bytes (SIZE is advertised and enforced). */
  maxMessageSize: number
  /** @default 1000 */
  maxRecipients?: number
  /** Clients connected at once, in all. @default 100 */
  maxClients?: number
  /**
   * Connections at once from one client (address, or IPv6 /64) outside `allowNetworks`, as
   * Postfix's anvil limits them. @default 10
   */
  connectionsPerClient?: number
  /**
   * Percentage of `maxClients` that clients outside `allowNetworks` may hold together, so that
   * clients on the trusted networks always find a free slot (one is always kept). @default 80
   */
  outsideClientShare?: number
  /** Time without a byte from the client before it is disconnected. @default 60_000 */
  idleTimeoutMs?: number
  /**
   * Longest a client may take to send its next complete command line (from its previous one,
   * or from connecting); bytes trickled in do not extend it. @default 60_000
   */
  commandTimeoutMs?: number
  /**
   * Longest from connecting, or from the reply to the previous message, to the DATA command
   * (EHLO, STARTTLS, AUTH, MAIL FROM and every RCPT TO together). @default 300_000
   */
  envelopeTimeoutMs?: number
  /** Longest a client may take to send one message's DATA, up to the final dot. @default 600_000 */
  dataTimeoutMs?: number
  /** Name in the greeting and in Received headers. @default the machine's host name */
  hostname?: string
  logger: Logger
}

/** What the listener needs from the Outbox. */
export interface SmtpTarget {
  sendRaw(message: RawMessageInput): Promise<SendResult>
  /**
   * Takes reports for the bounce domain, when bounce tracking is on: mail to that domain is
   * accepted from any network (and only it: the listener stays closed to relaying).
   */
  readonly bounces?: BounceIntake | null
}

/** A running SMTP listener. */
export interface SmtpListener {
  /** Where it listens, as `host:port` (ports resolved when 0 was asked). */
  readonly addresses: string[]
  close(): Promise<void>
}

/** A matcher for client addresses against CIDR networks (IPv4-mapped IPv6 counts as IPv4). */
export function createNetworkMatcher(networks: readonly string[]): (address: string) => boolean {
  const list = new BlockList()
  for (const network of networks) {
    const [ip, bits] = network.split('/')
    const type = isIPv6(ip!) ? 'ipv6' : 'ipv4'
    const prefix = bits === undefined ? (type === 'ipv6' ? 128 : 32) : Number(bits)
    list.addSubnet(ip!, prefix, type)
  }
  return (address) => {
    const plain =
      address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address
    return list.check(plain, isIPv6(plain) ? 'ipv6' : 'ipv4')
  }
}

function smtpError(code: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode: code })
}

/** RFC 6531 3.4: a non-ASCII address may only come after `MAIL FROM:<…> SMTPUTF8`. */
const SMTPUTF8_REQUIRED = 'Must declare SMTPUTF8 to send unicode address'
const isNonAscii = (address: string): boolean => /[^\x00-\x7f]/.test(address)

/** A Received header for the hop into Outbox (the only change made to the bytes). */
function receivedHeader(session: SMTPServerSession, by: string): string {
  const protocol = `ESMTP${session.secure ? 'S' : ''}${session.user ? 'A' : ''}`
  const helo = (session.hostNameAppearsAs || 'unknown').replace(/[^\x21-\x7e]/g, '')
  const date = rfc5322Date(new Date())
  return `Received: from ${helo} ([${session.remoteAddress}])\r\n\tby ${by} (Outbox) with ${protocol};\r\n\t${date}\r\n`
}

/**
 * Starts the SMTP listener: every accepted message goes into the same durable queue as
 * `outbox.send()`, and the client gets `250` only after the store has committed it.
 */
export async function startSmtpListener(
  target: SmtpTarget,
  options: SmtpListenerOptions,
): Promise<SmtpListener> {
  const log = options.logger
  const intake = target.bounces ?? null
  const allowed = createNetworkMatcher(options.allowNetworks ?? ['127.0.0.0/8', '::1/128'])
  const users = new Map((options.users ?? []).map((u) => [u.username, u.passwordHash]))
  const name = options.hostname ?? osHostname()
  const guard = createConnectionGuard({
    slots: createClientSlots({
      maxClients: options.maxClients ?? 100,
      perClient: options.connectionsPerClient ?? 10,
      outsideShare: options.outsideClientShare ?? 80,
      isTrusted: allowed,
    }),
    timeouts: {
      commandMs: options.commandTimeoutMs ?? 60_000,
      envelopeMs: options.envelopeTimeoutMs ?? 300_000,
      dataMs: options.dataTimeoutMs ?? 600_000,
    },
    name,
    logger: log,
  })
  const servers: SMTPServer[] = []
  /**
   * Refuses with an enhanced status code of our own choosing, as Postfix does (`553 5.6.7`).
   * smtp-server puts the default one for the reply code in front of a hook's refusal (5.1.3
   * for a 553) and offers no way to pass another; it writes the reply synchronously inside the
   * callback, so its enhanced codes are off just for that call, and the text carries ours.
   */
  function refuseWithCode(
    callback: (error: Error) => void,
    code: number,
    enhanced: string,
    text: string,
  ): void {
    for (const server of servers) server.options.hideENHANCEDSTATUSCODES = true
    try {
      callback(smtpError(code, `${enhanced} ${text}`))
    } finally {
      for (const server of servers) server.options.hideENHANCEDSTATUSCODES = false
    }
  }
  // Without users AUTH is not offered at all, rather than offered and then always refused.
  const disabledCommands = [...(options.tls ? [] : ['STARTTLS']), ...(users.size ? [] : ['AUTH'])]

  const base: SMTPServerOptions = {
    name,
    banner: 'Outbox ESMTP',
    hideENHANCEDSTATUSCODES: false,
    disableReverseLookup: true,
    logger: false,
    size: options.maxMessageSize,
    rejectOversized: true,
    maxRecipients: options.maxRecipients ?? 1000,
    // Slots are counted in onConnect instead (see createClientSlots): smtp-server counts every
    // connection, also those about to be refused, and would answer a trusted client 421 while
    // a crowd of untrusted ones is still being turned away.
    maxClients: 0,
    socketTimeout: options.idleTimeoutMs ?? 60_000,
    closeTimeout: 5000,
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: true,
    // Checked in onAuth instead: clients on the trusted networks may log in without TLS.
    allowInsecureAuth: true,
    hideSTARTTLS: !options.tls,
    disabledCommands,
    ...(options.tls ? { key: options.tls.key, cert: options.tls.cert } : {}),

    onConnect(session, callback) {
      const refusal = guard.admit(session)
      callback(refusal === null ? null : smtpError(421, refusal))
    },

    onSecure(socket, session, callback) {
      guard.secured(session, socket)
      // At once: smtp-server pipes the socket into its parser right after this callback, in
      // the same turn, so no chunk flows before the parser listens too.
      callback()
    },

    onClose(session) {
      guard.closed(session)
    },

    onAuth(auth, session, callback) {
      // Passwords cross the network in the clear without TLS: only trusted networks may do that.
      if (!session.secure && !allowed(session.remoteAddress)) {
        return callback(smtpError(538, 'Encryption required: use STARTTLS before AUTH'))
      }
      const hash = users.get(auth.username ?? '')
      if (!hash || !verifyPassword(auth.password ?? '', hash)) {
        log.warn({ user: auth.username, client: session.remoteAddress }, 'SMTP AUTH failed')
        return callback(smtpError(535, 'Authentication credentials invalid'))
      }
      callback(null, { user: auth.username })
    },

    onMailFrom(address, session, callback) {
      // With bounce tracking, anyone may send reports to the bounce domain: RCPT decides.
      if (!session.user && !allowed(session.remoteAddress) && !intake) {
        return callback(
          smtpError(530, 'Authentication required: this client may not relay without AUTH'),
        )
      }
      if (address.address !== '' && !isValidAddress(address.address)) {
        return callback(smtpError(553, `Bad sender address syntax: ${address.address}`))
      }
      if (isNonAscii(address.address) && !session.envelope.smtpUtf8) {
        return refuseWithCode(callback, 553, '5.6.7', SMTPUTF8_REQUIRED)
      }
      callback()
    },

    onRcptTo(address, session, callback) {
      if (!isValidAddress(address.address)) {
        return callback(smtpError(553, `Bad recipient address syntax: ${address.address}`))
      }
      if (isNonAscii(address.address) && !session.envelope.smtpUtf8) {
        return refuseWithCode(callback, 553, '5.6.7', SMTPUTF8_REQUIRED)
      }
      const report = intake?.isBounceAddress(address.address) ?? false
      if (!report && !session.user && !allowed(session.remoteAddress)) {
        return callback(
          smtpError(530, 'Authentication required: this client may not relay without AUTH'),
        )
      }
      // Reports are recorded, the rest queued: one kind per transaction, the other kind's
      // recipients are asked for again in the next one (a 452 keeps them queued at the client).
      const first = session.envelope.rcptTo[0]
      if (first && (intake?.isBounceAddress(first.address) ?? false) !== report) {
        return refuseWithCode(
          callback,
          452,
          '4.5.3',
          'Bounce reports and other mail go in separate transactions; try again',
        )
      }
      if (!report) return callback()
      intake!.checkRecipient(address.address).then(
        (check) =>
          check === 'unknown'
            ? refuseWithCode(callback, 550, '5.1.1', 'No such bounce address')
            : callback(),
        (error: unknown) => {
          log.error({ err: (error as Error).message }, 'could not check a bounce address')
          callback(smtpError(451, 'Temporary failure checking the address; try again later'))
        },
      )
    },

    onData(stream, session, reply) {
      guard.dataStarted(session)
      const callback: typeof reply = (error, message) => {
        guard.messageDone(session)
        reply(error, message)
      }
      const chunks: Buffer[] = []
      let size = 0
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size <= options.maxMessageSize) chunks.push(chunk)
      })
      // The connection went away mid-message (or its DATA deadline passed): nothing to store.
      stream.on('error', () => {})
      stream.on('end', () => {
        if (stream.sizeExceeded) return callback(smtpError(552, 'Message too big for this system'))
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : ''
        const to = session.envelope.rcptTo.map((r) => r.address)
        if (intake && to.length > 0 && intake.isBounceAddress(to[0]!)) {
          return takeReport(intake, session, to, Buffer.concat(chunks), callback)
        }
        const raw = Buffer.concat([Buffer.from(receivedHeader(session, name)), ...chunks])
        target.sendRaw({ from, to, raw }).then(
          (result) => {
            log.info(
              {
                id: result.id,
                client: session.remoteAddress,
                recipients: to.length,
                size: raw.length,
              },
              'SMTP message queued',
            )
            // Handed back as an "error" with code 250 on purpose: smtp-server gives a message
            // accepted in onData the enhanced code 2.6.0, and only a reply code of our own gets
            // the plain 2.0.0 of `250 2.0.0 Ok: queued as <id>`, which Postfix and our docs use.
            callback(smtpError(250, `Ok: queued as ${result.id}`))
          },
          (error: unknown) => {
            if (error instanceof InvalidMessageError) {
              // smtp-server puts the enhanced code in front: 552 5.2.2 or 554 5.6.0.
              return callback(
                smtpError(error.code === ErrorCodes.MESSAGE_TOO_LARGE ? 552 : 554, error.message),
              )
            }
            // Never accept and lose: the client keeps the message and tries again.
            log.error(
              { err: error instanceof OutboxError ? error.message : String(error) },
              'could not queue an SMTP message',
            )
            callback(smtpError(451, 'Temporary failure storing the message; try again later'))
          },
        )
      })
    },
  }

  /** Records a report sent to the bounce domain; 250 only once it is recorded (or ignored). */
  function takeReport(
    bounces: BounceIntake,
    session: SMTPServerSession,
    to: string[],
    raw: Buffer,
    callback: (error: Error | null) => void,
  ): void {
    bounces.receive(to, raw).then(
      (result) => {
        log.info(
          { client: session.remoteAddress, recorded: result.recorded, ignored: result.ignored },
          'SMTP report for the bounce domain taken',
        )
        // Accepted either way: an auto-reply or an unknown report is dropped, never bounced back.
        callback(
          smtpError(
            250,
            result.ignored ? `Ok: nothing recorded (${result.ignored})` : 'Ok: report recorded',
          ),
        )
      },
      (error: unknown) => {
        log.error({ err: (error as Error).message }, 'could not record a bounce report')
        callback(smtpError(451, 'Temporary failure recording the report; try again later'))
      },
    )
  }

  const addresses: string[] = []

  async function listen(address: string, secure: boolean): Promise<void> {
    const { host, port } = parseListenAddress(address)
    const server = new SMTPServer({ ...base, secure })
    server.on('error', (error) => log.warn({ err: error.message }, 'SMTP listener error'))
    server.server.on('connection', (socket: Socket) => guard.accepted(socket, secure))
    await new Promise<void>((resolve, reject) => {
      server.server.once('error', reject)
      server.listen(port, host, () => {
        server.server.off('error', reject)
        resolve()
      })
    })
    const bound = server.server.address()
    const boundPort = bound && typeof bound === 'object' ? bound.port : port
    addresses.push(host.includes(':') ? `[${host}]:${boundPort}` : `${host}:${boundPort}`)
    servers.push(server)
  }

  try {
    await listen(options.listen, false)
    if (options.tlsListen) {
      if (!options.tls)
        throw new InvalidMessageError(
          'smtp.tlsListen',
          'Implicit TLS needs smtp.tlsKey and smtp.tlsCert.',
        )
      await listen(options.tlsListen, true)
    }
  } catch (error) {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))))
    throw error
  }

  return {
    addresses,
    async close() {
      await Promise.all(
        servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
      )
    },
  }
}
