import SMTPConnection from 'nodemailer/lib/smtp-connection'
import { newMessageStream, type SmtpProgress } from './smtp-progress.js'

/** How to open one SMTP session: Nodemailer's connection options and the login, if any. */
export interface SessionSettings {
  /** Passed to Nodemailer's SMTPConnection (host, port, secure, tls, timeouts, name, …). */
  connection: SMTPConnection.Options
  /** Credentials, used when the server offers AUTH. */
  auth: { user: string; pass: string } | null
  /** Fail when the server offers AUTH and no credentials are configured. */
  forceAuth: boolean
}

/** What the server accepted or refused in one transaction (Nodemailer's report). */
export interface SentInfo {
  accepted?: unknown[]
  rejected?: unknown[]
  rejectedErrors?: (Error & { recipient?: string; responseCode?: number; response?: string })[]
  response?: unknown
}

/** The envelope of one transaction, with the MAIL FROM parameters it declares. */
export interface SessionEnvelope {
  from: string
  to: string[]
  /** `SIZE=`: the server refuses a message over its limit before the data is sent. */
  size: number
  /** `BODY=8BITMIME`. (Nodemailer adds `SMTPUTF8` by itself for a non-ASCII address.) */
  use8BitMime: boolean
}

/**
 * One open SMTP session: connected, greeted, EHLO (and STARTTLS, and login) done. Nodemailer
 * speaks the protocol; this adds what a pool needs to know about the session: when it was
 * opened, how many messages it carried, what the server offers, and when it is gone.
 */
export interface SmtpSession {
  readonly openedAt: number
  /** Transactions started on it. */
  readonly messages: number
  /** Extension keywords of the server's EHLO reply, upper-case (`8BITMIME`, `SMTPUTF8`, `SIZE`, …). */
  readonly extensions: ReadonlySet<string>
  /** The connection is gone (closed by either side). */
  readonly closed: boolean
  /** Runs one transaction; rejects with Nodemailer's error. `progress` records how far it got. */
  send(envelope: SessionEnvelope, raw: Buffer, progress: SmtpProgress): Promise<SentInfo>
  /** RSET: checks that the session still answers, and clears a refused transaction. */
  reset(): Promise<void>
  /** Says QUIT and closes. */
  quit(): void
  /** Closes at once. */
  close(): void
  /** Resolves once the connection is gone and its socket closed. */
  readonly ended: Promise<void>
}

/** The keywords of an EHLO reply: the first word of every line after the first. Pure. */
export function ehloExtensions(reply: string): Set<string> {
  return new Set(
    reply
      .split(/\r?\n/)
      .slice(1)
      .map((line) =>
        line
          .replace(/^\d{3}[ -]/, '')
          .trim()
          .split(/[\s=]/)[0]!
          .toUpperCase(),
      )
      .filter(Boolean),
  )
}

type NodemailerError = Error & { code?: string; responseCode?: number; command?: string }

/** Opens a session; rejects with Nodemailer's error of the step that failed (connect, greeting, EHLO, STARTTLS, AUTH). */
export function openSmtpSession(settings: SessionSettings): Promise<SmtpSession> {
  const connection = new SMTPConnection({ ...settings.connection, logger: false, debug: false })
  const openedAt = Date.now()
  let messages = 0
  let closed = false
  let extensions: ReadonlySet<string> = new Set()
  let markEnded!: () => void
  const ended = new Promise<void>((resolve) => (markEnded = resolve))

  // Nodemailer emits every failure as 'error' too; without a listener one would be thrown.
  // The callbacks below report each failure to whoever is waiting for the step that failed.
  connection.on('error', () => {})
  connection.once('end', () => {
    closed = true
    // The pool frees the slot only once the server has seen the socket close too, so that a
    // server counting our connections does not count this one against its replacement.
    const socket = connection._socket
    if (socket && !socket.destroyed) socket.once('close', markEnded)
    else markEnded()
  })

  const session: SmtpSession = {
    openedAt,
    get messages() {
      return messages
    },
    get extensions() {
      return extensions
    },
    get closed() {
      return closed
    },
    ended,
    send(envelope, raw, progress) {
      messages++
      progress.transaction = true
      return new Promise((resolve, reject) => {
        connection.send(envelope, newMessageStream(raw, progress), (error, info) => {
          if (error) reject(error)
          else resolve(info)
        })
      })
    },
    reset() {
      return new Promise((resolve, reject) =>
        connection.reset((error) => (error ? reject(error) : resolve())),
      )
    },
    quit() {
      if (closed) return
      connection.quit()
    },
    close() {
      connection.close()
    },
  }

  return new Promise<SmtpSession>((resolve, reject) => {
    let settled = false
    const fail = (error: NodemailerError): void => {
      if (settled) return
      settled = true
      connection.close()
      reject(error)
    }
    connection.once('error', fail)
    connection.once('end', () =>
      fail(Object.assign(new Error('Connection closed'), { code: 'ECONNECTION', command: 'CONN' })),
    )
    connection.connect((error) => {
      if (error) return fail(error)
      // Right after the handshake the last reply is the EHLO one (after STARTTLS, the second).
      extensions = ehloExtensions(connection.lastServerResponse || '')
      const done = (): void => {
        if (settled) return
        settled = true
        connection.removeListener('error', fail)
        resolve(session)
      }
      const { auth } = settings
      if (auth && (connection.allowsAuth || settings.forceAuth)) {
        connection.login(auth, (loginError) => (loginError ? fail(loginError) : done()))
      } else if (!auth && connection.allowsAuth && settings.forceAuth) {
        fail(Object.assign(new Error('Authentication info was not provided'), { code: 'ENOAUTH' }))
      } else done()
    })
  })
}
