import type { SentMessageInfo, Transport } from 'nodemailer'
import type MailMessage from 'nodemailer/lib/mailer/mail-message'
import { composeFromMimeNode, type ComposeLimits } from '../message/compose.js'
import type { ComposedMessage, SendOptions, SendResult } from '../message/types.js'
import { packageVersion } from '../version.js'

/** What the transport needs from the Outbox. */
export interface TransportTarget {
  /** Enqueues a message composed and checked here, as it is. */
  sendComposed(message: ComposedMessage, options?: SendOptions): Promise<SendResult>
  limits: ComposeLimits
}

/**
 * Send options ride along in the message data as `outbox: { priority, sendAt, idempotencyKey,
 * tags }`; Nodemailer passes unknown fields through and its composer ignores them.
 */
function sendOptionsOf(mail: MailMessage<SentMessageInfo>): SendOptions | undefined {
  return (mail.data as { outbox?: SendOptions }).outbox
}

/**
 * A Nodemailer transport that queues: Nodemailer compiles the message as usual, the transport
 * builds its bytes once and stores them; `sendMail()` resolves when the store has committed.
 * The info it resolves with has the stored `messageId` and the queue id in `response`.
 *
 * @example
 * await transporter.sendMail({ from, to, subject, text, outbox: { priority: 'high', idempotencyKey: 'order-42' } })
 */
export function createNodemailerTransport(target: TransportTarget): Transport {
  return {
    name: 'Outbox',
    version: packageVersion(),
    send(
      mail: MailMessage<SentMessageInfo>,
      callback: (err: Error | null, info?: SentMessageInfo) => void,
    ) {
      composeFromMimeNode(mail.message, target.limits)
        .then((composed) =>
          target.sendComposed(composed, sendOptionsOf(mail)).then((result) => {
            callback(null, {
              envelope: { ...composed.envelope },
              messageId: result.messageId,
              accepted: composed.envelope.to,
              rejected: [],
              pending: [],
              response: `250 2.0.0 Ok: queued as ${result.id}`,
              queueId: result.id,
            })
          }),
        )
        .catch((error: Error) => callback(error))
    },
  }
}
