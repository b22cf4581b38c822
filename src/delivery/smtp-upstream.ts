import type { Logger } from '../logger.js'
import { transportNeeds } from '../message/transport-needs.js'
import { deliverInChunks, reportFromError, reportFromInfo } from './delivery-report.js'
import { createSmtpConnections } from './smtp-connections.js'
import { newSmtpProgress } from './smtp-progress.js'
import type { SmtpSettings } from './smtp-settings.js'
import type { Upstream } from './upstream.js'

/** An SMTP upstream on Outbox's own connections (see smtp-connections.ts). */
export function createSmtpUpstream(
  settings: SmtpSettings,
  description: string,
  logger: Logger,
): Upstream {
  const connections = createSmtpConnections({
    settings: settings.session,
    limits: settings.limits,
    description,
    logger,
  })
  return {
    kind: 'smtp',
    description,
    deliver(message) {
      // Recorded at enqueue; read from the message for one stored before that was recorded.
      const read = transportNeeds(message.raw, { from: message.from, to: message.recipients })
      const needs = {
        eightBit: message.eightBit ?? read.eightBit,
        smtpUtf8: message.smtpUtf8 ?? read.smtpUtf8,
      }
      return deliverInChunks(message, async (chunk) => {
        const progress = newSmtpProgress()
        const envelope = {
          from: message.from,
          to: chunk,
          size: message.raw.length,
          use8BitMime: needs.eightBit,
        }
        try {
          return reportFromInfo(
            await connections.send(envelope, message.raw, needs, progress),
            chunk,
          )
        } catch (error) {
          return reportFromError(error, progress, chunk)
        }
      })
    },
    probe: () => connections.probe(),
    async close() {
      connections.close()
    },
  }
}
