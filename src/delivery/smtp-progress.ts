import { PassThrough, type Readable, type Writable } from 'node:stream'
import type { Transporter } from 'nodemailer'

/**
 * How far one SMTP transaction got, as seen from the client. Only the last step decides
 * whether a lost connection is `uncertain`: the upstream can have the message only once the
 * final dot was written.
 */
export interface SmtpProgress {
  /** The session was set up (greeting, EHLO, STARTTLS, AUTH passed) and MAIL FROM was next. */
  transaction: boolean
  /** The server answered DATA with 354 and the body started to go out. */
  data: boolean
  /** The body and the final dot were written to the connection: a reply is awaited. */
  dotWritten: boolean
}

/** No step reached: the error came before the transaction (connect, greeting, login). */
export const NO_PROGRESS: Readonly<SmtpProgress> = Object.freeze({
  transaction: false,
  data: false,
  dotWritten: false,
})

/** A fresh record for one send; pass it as `outboxProgress` in the sendMail() options. */
export function newSmtpProgress(): SmtpProgress {
  return { transaction: false, data: false, dotWritten: false }
}

/** The key of the sendMail() option carrying the {@link SmtpProgress} of that send. */
export const PROGRESS_OPTION = 'outboxProgress'

const tracked = new WeakSet<object>()

/**
 * Makes `transporter` record, for each sendMail() given an `outboxProgress` option, how far the
 * SMTP transaction got. Nodemailer says nothing about it: it reads the message into its own
 * buffers long before sending it (so "our stream ended" means nothing), and its errors for a
 * dropped connection look the same before MAIL FROM and after the final dot.
 *
 * A stream plugin adds the last stage of the message's stream. Nodemailer builds that stream
 * once the session is up (so it being built means the transaction began), and its SMTP
 * connection pipes it into the dot-stuffing stream only once the server answered DATA with 354.
 * That stream is itself piped to the socket and ends once its last bytes, the final dot, were
 * written there. Installed once per transporter; sends without the option are left alone.
 */
export function trackSmtpProgress(transporter: Transporter): void {
  if (tracked.has(transporter) || typeof transporter.use !== 'function') return
  tracked.add(transporter)
  transporter.use('stream', (mail, done) => {
    const progress = (mail.data as Record<string, unknown>)[PROGRESS_OPTION] as
      SmtpProgress | undefined
    if (progress) mail.message.processFunc((input) => tap(input, progress))
    done()
  })
}

/**
 * The stream of a message's bytes for Nodemailer's SMTPConnection.send(), recording in
 * `progress` how far the transaction got: like {@link trackSmtpProgress}, for Outbox's own
 * connections.
 */
export function newMessageStream(raw: Buffer, progress: SmtpProgress): Readable {
  const input = new PassThrough()
  input.end(raw)
  return tap(input, progress)
}

function tap(input: Readable, progress: SmtpProgress): Readable {
  progress.transaction = true
  const output = new PassThrough()
  // A process function reports the errors of its input on its output.
  input.once('error', (error) => output.destroy(error))
  input.pipe(output)
  const pipe = output.pipe.bind(output)
  output.pipe = <T extends NodeJS.WritableStream>(destination: T, options?: { end?: boolean }) => {
    progress.data = true
    ;(destination as unknown as Writable).once('end', () => {
      progress.dotWritten = true
    })
    return pipe(destination, options)
  }
  return output
}
