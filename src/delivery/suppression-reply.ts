import type { Suppression } from '../store/store.js'

/**
 * The reply a suppressed recipient is failed with: says why, and what to do when the address
 * is good again, without contacting the upstream.
 */
export function suppressionReply(entry: Suppression): string {
  const why = entry.reply ? `${entry.reason}: ${entry.reply}` : entry.reason
  return `suppressed (${why}); remove it with \`outbox suppress remove ${entry.address}\` to send to it again`
}
