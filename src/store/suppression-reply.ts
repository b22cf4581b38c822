import type { Suppression } from './store.js'

/**
 * The reply a recipient found on the suppression list at enqueue is failed with:
 * `suppressed (rejected: 550 5.1.1 …)`. The PostgreSQL insert and the Redis enqueue script
 * write the same text themselves (they check the list inside the insert).
 */
export function suppressionReply(entry: Pick<Suppression, 'reason' | 'reply'>): string {
  return entry.reply
    ? `suppressed (${entry.reason}: ${entry.reply})`
    : `suppressed (${entry.reason})`
}
