import { SMTPServer, type SMTPServerSession } from 'smtp-server'

/** One message the sink accepted. */
export interface SinkMessage {
  from: string
  /** The recipients accepted in this transaction. */
  to: string[]
  /** The bytes as received, dot-unstuffed: what the client meant to send. */
  raw: Buffer
  messageId: string | null
  receivedAt: number
  /** The connection it came on (smtp-server's session id). */
  connection: string
  /** What MAIL FROM declared: BODY= (`7bit` when absent) and SMTPUTF8. */
  bodyType: string
  smtpUtf8: boolean
}

/** Options of {@link createSmtpSink}. */
export interface SinkOptions {
  script?: SinkScript
  port?: number
  /** Connections at once; smtp-server answers more with `421 … Too many connected clients`. */
  maxClients?: number
  /** Offer STARTTLS with this certificate (PEM); without, STARTTLS is hidden. */
  tls?: { key: string | Buffer; cert: string | Buffer }
  /** SIZE limit advertised (and enforced). @default 50 MB */
  size?: number
  /** Leave 8BITMIME or SMTPUTF8 out of the EHLO reply. */
  hide8BITMIME?: boolean
  hideSMTPUTF8?: boolean
}

/** How the sink answers one step. `drop` closes the connection without a reply. */
export type SinkReply =
  'accept' | 'drop' | { code: number; message?: string } | { delayMs: number; then?: SinkReply }

/** A script deciding the sink's answers; every hook is optional (default: accept). */
export interface SinkScript {
  /** Reply to a new connection, e.g. `{ code: 421 }` to refuse service. */
  connect?: () => SinkReply
  /** Reply to one RCPT TO. */
  rcpt?: (address: string) => SinkReply
  /** Reply after the final dot, given the accepted envelope. */
  data?: (envelope: { from: string; to: string[] }, raw: Buffer) => SinkReply
}

/** A test SMTP server on 127.0.0.1. */
export interface SmtpSink {
  readonly port: number
  readonly url: string
  /** Accepted messages, in order. */
  readonly messages: SinkMessage[]
  /** Transactions that reached the final dot, whatever the answer. */
  readonly transactions: number
  /** Connections opened (past the greeting: smtp-server refuses those beyond maxClients before). */
  readonly connections: number
  /** TCP connections accepted, refused ones included. */
  readonly sockets: number
  /** Most connections open at once so far. */
  readonly peakConnections: number
  script: SinkScript
  /** Resolves once `count` messages were accepted (fails after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<void>
  /** Stops listening (port free: clients get connection refused). */
  stop(): Promise<void>
  /** Listens again on the same port. */
  restart(): Promise<void>
  close(): Promise<void>
}

function replyError(reply: { code: number; message?: string }): Error {
  const error = new Error(
    reply.message ?? (reply.code >= 500 ? 'Rejected by test sink' : 'Try again later'),
  ) as Error & {
    responseCode: number
  }
  error.responseCode = reply.code
  return error
}

export async function createSmtpSink(options: SinkOptions = {}): Promise<SmtpSink> {
  const messages: SinkMessage[] = []
  let transactions = 0
  let connections = 0
  let sockets = 0
  // Sessions past onConnect: smtp-server refuses connections beyond maxClients before it, but
  // calls onClose for them too.
  const open = new Set<string>()
  let peakConnections = 0
  let server: SMTPServer | null = null
  let port = options.port ?? 0
  const waiters = new Set<() => void>()

  function dropConnection(session: SMTPServerSession): void {
    for (const connection of server?.connections ?? []) {
      if (connection.id === session.id) connection._socket.destroy()
    }
  }

  /** Runs a reply: calls back with success or error, delays, or drops the connection. */
  function answer(
    reply: SinkReply,
    session: SMTPServerSession,
    callback: (err?: Error | null) => void,
    onAccept?: () => void,
  ): void {
    if (reply === 'accept') {
      onAccept?.()
      callback()
    } else if (reply === 'drop') {
      dropConnection(session)
    } else if ('delayMs' in reply) {
      setTimeout(() => answer(reply.then ?? 'accept', session, callback, onAccept), reply.delayMs)
    } else {
      callback(replyError(reply))
    }
  }

  const sink: SmtpSink = {
    get port() {
      return port
    },
    get url() {
      return `smtp://127.0.0.1:${port}`
    },
    messages,
    get transactions() {
      return transactions
    },
    get connections() {
      return connections
    },
    get sockets() {
      return sockets
    },
    get peakConnections() {
      return peakConnections
    },
    script: options.script ?? {},
    async waitFor(count, timeoutMs = 20_000) {
      if (messages.length >= count) return
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(
            new Error(
              `sink got ${messages.length} messages, expected ${count} within ${timeoutMs} ms`,
            ),
          )
        }, timeoutMs)
        const check = (): void => {
          if (messages.length >= count) {
            clearTimeout(timer)
            waiters.delete(check)
            resolve()
          }
        }
        waiters.add(check)
      })
    },
    async stop() {
      const s = server
      server = null
      if (!s) return
      for (const connection of s.connections) connection._socket.destroy()
      await new Promise<void>((resolve) => s.close(() => resolve()))
    },
    async restart() {
      await listen()
    },
    async close() {
      await sink.stop()
    },
  }

  async function listen(): Promise<void> {
    const s = new SMTPServer({
      authOptional: true,
      ...(options.tls
        ? { key: options.tls.key, cert: options.tls.cert }
        : { disabledCommands: ['STARTTLS'] }),
      disableReverseLookup: true,
      logger: false,
      size: options.size ?? 50 * 1024 * 1024,
      maxClients: options.maxClients ?? Infinity,
      hide8BITMIME: options.hide8BITMIME ?? false,
      hideSMTPUTF8: options.hideSMTPUTF8 ?? false,
      onConnect(session, callback) {
        connections++
        open.add(session.id)
        peakConnections = Math.max(peakConnections, open.size)
        answer(sink.script.connect?.() ?? 'accept', session, callback)
      },
      onClose(session) {
        open.delete(session.id)
      },
      onRcptTo(address, session, callback) {
        answer(sink.script.rcpt?.(address.address) ?? 'accept', session, callback)
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = []
        stream.on('data', (chunk: Buffer) => chunks.push(chunk))
        stream.on('end', () => {
          transactions++
          const raw = Buffer.concat(chunks)
          const envelope = {
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
          }
          const reply = sink.script.data?.(envelope, raw) ?? 'accept'
          answer(reply, session, callback, () => {
            const header = /^message-id:\s*(\S+)/im.exec(raw.subarray(0, 8192).toString('latin1'))
            messages.push({
              ...envelope,
              raw,
              messageId: header?.[1] ?? null,
              receivedAt: Date.now(),
              connection: session.id,
              bodyType: session.envelope.bodyType ?? '7bit',
              smtpUtf8: session.envelope.smtpUtf8 ?? false,
            })
            for (const waiter of [...waiters]) waiter()
          })
        })
      },
    })
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject)
      s.listen(port, '127.0.0.1', () => {
        s.off('error', reject)
        resolve()
      })
    })
    s.on('error', () => {})
    s.server.on('connection', () => sockets++)
    const address = s.server.address()
    if (address && typeof address === 'object') port = address.port
    server = s
  }

  await listen()
  return sink
}
