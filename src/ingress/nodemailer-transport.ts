import type { SentMessageInfo, Transport } from 'nodemailer'
import MailComposer from 'nodemailer/lib/mail-composer'
import type MailMessage from 'nodemailer/lib/mailer/mail-message'
import { composeFromMimeNode, type ComposeLimits } from '../message/compose.js'
import type { ComposedMessage, MailInput, SendOptions, SendResult } from '../message/types.js'
import type { TemplateRef } from '../store/store.js'
import { isTemplateMail, type TemplateMailInput } from '../templates/template-mail.js'
import { packageVersion } from '../version.js'

/** What the transport needs from the Outbox. */
export interface TransportTarget {
  /** Enqueues a message composed and checked here, as it is. */
  sendComposed(
    message: ComposedMessage,
    options?: SendOptions,
    template?: TemplateRef,
  ): Promise<SendResult>
  /** A templated message (`template`, `language`, `context`) as the message it renders to. */
  renderTemplate(mail: TemplateMailInput): Promise<{ mail: MailInput; template: TemplateRef }>
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
      composeMail(mail, target)
        .then(({ composed, template }) =>
          target.sendComposed(composed, sendOptionsOf(mail), template).then((result) => {
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

/**
 * The message's bytes: as Nodemailer compiled it, or, for `sendMail({ template, language,
 * context, to })`, compiled again from what the template renders to.
 */
async function composeMail(
  mail: MailMessage<SentMessageInfo>,
  target: TransportTarget,
): Promise<{ composed: ComposedMessage; template?: TemplateRef }> {
  if (!isTemplateMail(mail.data)) {
    return { composed: await composeFromMimeNode(mail.message, target.limits) }
  }
  // The send options (`outbox`) are not part of the message.
  const data = { ...(mail.data as TemplateMailInput & { outbox?: unknown }) }
  delete data.outbox
  const rendered = await target.renderTemplate(data)
  const node = new MailComposer(rendered.mail).compile()
  return {
    composed: await composeFromMimeNode(node, target.limits, {
      hasAttachments: Array.isArray(rendered.mail.attachments),
    }),
    template: rendered.template,
  }
}
