import type { SendMailOptions, Transporter } from 'nodemailer'
import { transportNeeds } from '../message/transport-needs.js'
import { deliverInChunks, reportFromError, reportFromInfo } from './delivery-report.js'
import type { SentInfo } from './smtp-session.js'
import { newSmtpProgress, PROGRESS_OPTION, trackSmtpProgress } from './smtp-progress.js'
import type { Upstream } from './upstream.js'

/** An upstream on a Nodemailer transporter the application made (any transport). */
export function createTransporterUpstream(description: string, transporter: Transporter): Upstream {
  // Tells, when a send fails, whether the final dot had been written (see smtp-progress.ts).
  trackSmtpProgress(transporter)
  return {
    kind: 'transport',
    description,
    deliver(message) {
      const eightBit =
        message.eightBit ?? transportNeeds(message.raw, { from: '', to: [] }).eightBit
      return deliverInChunks(message, async (chunk) => {
        const progress = newSmtpProgress()
        try {
          const info = (await transporter.sendMail({
            // Nodemailer's SMTP transports declare SIZE and BODY=8BITMIME from these (when the
            // server offers them: whether it does, they do not tell).
            envelope: {
              from: message.from,
              to: chunk,
              size: message.raw.length,
              use8BitMime: eightBit,
            },
            raw: message.raw,
            // The stored Message-ID: otherwise Nodemailer makes up one for its report (five calls
            // to the CSPRNG per message, some 8 % of the worker's own CPU in the benchmark).
            // Raw bytes are sent as they are: this adds no header.
            messageId: message.messageId,
            [PROGRESS_OPTION]: progress,
          } as SendMailOptions)) as SentInfo
          return reportFromInfo(info, chunk)
        } catch (error) {
          return reportFromError(error, progress, chunk)
        }
      })
    },
    async probe() {
      const t = transporter as Transporter & { verify?: () => Promise<unknown> }
      // A transport without verify() cannot be probed; trying a message is the probe then.
      if (typeof t.verify !== 'function') return
      try {
        await t.verify()
      } catch (error) {
        if (!/verify|not supported|not implemented/i.test(String((error as Error).message)))
          throw error
      }
    },
    async close() {
      transporter.close()
    },
  }
}
