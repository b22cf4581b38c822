import type { BounceAddressSettings } from '../config/outbox-options.js'
import { isBadAddressReply } from '../delivery/bad-address.js'
import {
  bounceTokenMatches,
  isBounceDomain,
  parseBounceAddress,
  type ParsedBounceAddress,
} from '../delivery/verp.js'
import type { Logger } from '../logger.js'
import type { RecipientFeedback, Store, SuppressionInput } from '../store/store.js'
import { parseBounceReport } from './bounce-report.js'

/** Whether an address at the bounce domain is one the intake takes mail for. */
export type BounceRecipientCheck = 'token' | 'mailbox' | 'unknown'

/** What became of one report. */
export interface IntakeResult {
  /** Recipients marked bounced or complained. */
  recorded: number
  /** Why nothing was recorded, when nothing was. */
  ignored: string | null
}

/** Takes delivery reports and complaints for the bounce domain (see bounce-senders.ts). */
export interface BounceIntake {
  /** Whether the address is at the bounce domain: mail to it is a report, never relayed. */
  isBounceAddress(address: string): boolean
  /**
   * `token`: a bounce address Outbox made for a message still in the store; `mailbox`: the
   * plain `bounces@<domain>` (complaint feedback loops write there; the original's envelope
   * sender in the report names the message); `unknown`: forged or gone, refused at RCPT.
   */
  checkRecipient(address: string): Promise<BounceRecipientCheck>
  /** Parses a report sent to `recipients` and records it. Rejects only when the store does. */
  receive(recipients: readonly string[], raw: Buffer): Promise<IntakeResult>
}

/** The message and recipient a bounce address was made for, if it is one of ours. */
async function resolveToken(
  store: Store,
  settings: BounceAddressSettings,
  parsed: ParsedBounceAddress,
): Promise<{ id: string; address: string } | null> {
  const message = await store.getMessage(parsed.queueId)
  if (!message) return null
  const match = message.recipientStatus.find((r) => bounceTokenMatches(settings, parsed, r.address))
  return match ? { id: message.id, address: match.address } : null
}

export function createBounceIntake(deps: {
  store: Store
  settings: BounceAddressSettings
  logger: Logger
}): BounceIntake {
  const { store, settings, logger: log } = deps
  const localPart = settings.localPart ?? 'bounces'
  const mailbox = `${localPart}@${settings.domain}`.toLowerCase()

  return {
    isBounceAddress: (address) => isBounceDomain(settings, address),

    async checkRecipient(address) {
      if (address.toLowerCase() === mailbox) return 'mailbox'
      const parsed = parseBounceAddress(settings, address)
      if (!parsed) return 'unknown'
      return (await resolveToken(store, settings, parsed)) ? 'token' : 'unknown'
    },

    async receive(recipients, raw) {
      const report = await parseBounceReport(raw)
      if (!report) return { recorded: 0, ignored: 'not a delivery report or complaint' }
      // The bounce address names the message and recipient; a report sent to the plain mailbox
      // names it through the original's envelope sender, which was a bounce address too.
      const candidates = [...recipients, report.originalMailFrom ?? '']
      const targets: { id: string; address: string }[] = []
      for (const candidate of candidates) {
        const parsed = parseBounceAddress(settings, candidate)
        const target = parsed ? await resolveToken(store, settings, parsed) : null
        if (target && !targets.some((t) => t.id === target.id && t.address === target.address)) {
          targets.push(target)
        }
      }
      if (targets.length === 0) return { recorded: 0, ignored: 'names no message of this queue' }

      const feedback: RecipientFeedback[] = []
      const suppress: SuppressionInput[] = []
      for (const target of targets) {
        if (report.kind === 'arf') {
          const reply = `complaint: ${report.reply}`
          feedback.push({ ...target, kind: 'complained', code: null, reply })
          suppress.push({
            address: target.address,
            reason: 'complained',
            reply,
            messageId: target.id,
          })
          continue
        }
        // One recipient per bounce address: the DSN's failed block is about it, whatever
        // address (a forward, an alias) the remote server writes.
        const failed = report.recipients.find((r) => r.action === 'failed')
        if (!failed) continue
        feedback.push({ ...target, kind: 'bounced', code: failed.code, reply: failed.reply })
        if (isBadAddressReply(failed.code, failed.reply || (failed.status ?? ''))) {
          suppress.push({
            address: target.address,
            reason: 'bounced',
            reply: failed.reply,
            messageId: target.id,
          })
        }
      }
      if (feedback.length === 0) return { recorded: 0, ignored: 'reports no failure' }
      const recorded = await store.recordFeedback(feedback)
      if (suppress.length > 0) await store.suppress(suppress)
      log.info(
        {
          kind: report.kind,
          messages: [...new Set(feedback.map((f) => f.id))],
          recipients: feedback.length,
          suppressed: suppress.length,
        },
        report.kind === 'arf' ? 'complaint recorded' : 'bounce recorded',
      )
      return { recorded, ignored: null }
    },
  }
}
