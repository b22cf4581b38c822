import type { BounceAddressSettings } from '../config/outbox-options.js'
import type { DeliveryReport, OutgoingMessage, Upstream } from '../delivery/upstream.js'
import { OK_REPORT } from '../delivery/delivery-report.js'
import { bounceAddress } from '../delivery/verp.js'

/**
 * Delivers with bounce tracking on: one SMTP transaction per recipient, each with its own
 * envelope sender `bounces+<token>@<domain>` (VERP), so that a bounce coming back days later
 * names the message and recipient it is about, whatever the remote server writes in it. The
 * reports are merged into one. A message with the null sender (itself a bounce or a report)
 * keeps it: mail about mail must never cause more mail.
 */
export async function deliverWithBounceAddresses(
  upstream: Upstream,
  message: OutgoingMessage,
  settings: BounceAddressSettings,
): Promise<DeliveryReport> {
  if (message.from === '') return upstream.deliver(message)
  const merged: DeliveryReport = { ...OK_REPORT, recipients: [], captured: true }
  for (const [i, to] of message.recipients.entries()) {
    const report = await upstream.deliver({
      ...message,
      from: bounceAddress(settings, message.id, to),
      recipients: [to],
    })
    merged.recipients.push(...report.recipients)
    merged.closing ||= report.closing
    merged.uncertain ||= report.uncertain
    merged.error ??= report.error
    merged.captured &&= report.captured
    if (report.upstreamDown) {
      // The rest were not tried: they wait, like every recipient of an unreachable upstream.
      merged.upstreamDown = report.upstreamDown
      merged.misconfigured = report.misconfigured
      merged.recipients.push(
        ...message.recipients.slice(i + 1).map((address) => ({
          address,
          disposition: 'temporary' as const,
          code: null,
          reply: report.upstreamDown!,
        })),
      )
      break
    }
  }
  return merged
}
