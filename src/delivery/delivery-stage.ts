import type { SmtpProgress } from './smtp-progress.js'

/**
 * Where in the SMTP dialogue a delivery failed:
 * - `connect`: before the server said anything (refused, DNS, timeout, dropped).
 * - `greeting`: the server's first reply refused us.
 * - `ehlo`, `tls` (STARTTLS or the handshake), `auth`: setting up the session.
 * - `mail`, `rcpt`, `data`: the envelope, up to the server's answer to DATA. A dropped
 *   connection there is `envelope`: Nodemailer does not say which command was waiting.
 * - `body`: after the 354, before the final dot was written.
 * - `after-dot`: the final dot was written; the reply to it failed or never came.
 * - `api`: Nodemailer refused the message itself before sending anything.
 */
export type DeliveryStage =
  | 'connect'
  | 'greeting'
  | 'ehlo'
  | 'tls'
  | 'auth'
  | 'mail'
  | 'rcpt'
  | 'data'
  | 'envelope'
  | 'body'
  | 'after-dot'
  | 'api'

/** The parts of a Nodemailer (or Node system) error that classification reads. */
export interface DeliveryErrorLike {
  code?: unknown
  originalCode?: unknown
  responseCode?: unknown
  command?: unknown
  response?: unknown
  message?: unknown
}

/**
 * The stage of a failure, from the command Nodemailer names on its error (`command`) and, for
 * failures of the connection itself (`CONN`, which Nodemailer reports alike at every stage),
 * from how far the transaction got. Pure.
 */
export function deliveryStage(error: DeliveryErrorLike, progress: SmtpProgress): DeliveryStage {
  const command = typeof error.command === 'string' ? error.command.toUpperCase() : ''
  const code = typeof error.code === 'string' ? error.code : ''
  if (command === 'MAIL FROM') return 'mail'
  if (command === 'RCPT TO') return 'rcpt'
  // The reply to the final dot fails as EMESSAGE, the reply to the DATA command as EENVELOPE.
  if (command === 'DATA') return code === 'EMESSAGE' ? 'after-dot' : 'data'
  if (command.startsWith('AUTH')) return 'auth'
  if (command === 'EHLO' || command === 'HELO' || command === 'LHLO') return 'ehlo'
  if (command === 'STARTTLS' || code === 'ETLS') return 'tls'
  if (command === 'API') return 'api'
  if (progress.dotWritten) return 'after-dot'
  if (progress.data) return 'body'
  // A 421 to a pipelined RCPT TO comes as "Server closed the connection" on CONN.
  if (progress.transaction) return 'envelope'
  return typeof error.responseCode === 'number' && error.responseCode > 0 ? 'greeting' : 'connect'
}
