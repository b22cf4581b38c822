import { isBadAddressReply } from '../delivery/bad-address.js'
import type { Logger } from '../logger.js'
import type { Completion, Store, SuppressionInput } from '../store/store.js'

/**
 * The recipients an outcome failed because their address is bad ("550 5.1.1 no such user"),
 * as suppression list entries. Policy refusals (5.7.x) and everything temporary are not.
 */
export function rejectedAddresses(completion: Completion): SuppressionInput[] {
  return completion.recipients
    .filter(
      (r) =>
        r.status === 'failed' &&
        r.code !== null &&
        r.code >= 500 &&
        isBadAddressReply(r.code, r.reply),
    )
    .map((r) => ({
      address: r.address,
      reason: 'rejected',
      reply: r.reply,
      messageId: completion.id,
    }))
}

/**
 * Puts the recipients a recorded outcome found bad on the suppression list, so that no later
 * mail is sent to them. Best effort after the outcome is recorded: never rejects (a failure is
 * logged, and the next refusal of the address adds it).
 */
export async function suppressRejected(
  completion: Completion,
  deps: { store: Store; logger: Logger },
): Promise<void> {
  const entries = rejectedAddresses(completion)
  if (entries.length === 0) return
  try {
    await deps.store.suppress(entries)
    deps.logger.info(
      { id: completion.id, addresses: entries.map((e) => e.address) },
      'addresses refused as non-existent put on the suppression list',
    )
  } catch (error) {
    deps.logger.warn(
      { id: completion.id, err: (error as Error).message },
      'could not add refused addresses to the suppression list',
    )
  }
}
