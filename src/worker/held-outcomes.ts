import type { Logger } from '../logger.js'
import type { ClaimedMessage, Completion, Store } from '../store/store.js'

/**
 * Outcomes of sends that happened but could not be recorded (the store went away). The worker
 * keeps them, with their leases, and records them once the store is back, before it starts any
 * other send: a message whose outcome is lost would be sent again when its lease runs out.
 */
export interface HeldOutcomes {
  /** Outcomes waiting to be recorded. While there are any, the worker starts no send. */
  readonly size: number
  /** Ids of the messages they belong to. */
  ids(): string[]
  hold(message: ClaimedMessage, completion: Completion): void
  /**
   * Tries to record every held outcome, oldest first. Resolves true when none is left, false
   * when the store still refuses (try again later).
   */
  flush(): Promise<boolean>
}

/**
 * How many times an outcome may fail to be recorded while the store otherwise answers before it
 * is given up: it is the outcome that is wrong then, not the store, and it must not stop the
 * worker for good. Its message's lease runs out and the message is delivered again.
 */
const MAX_REFUSALS_WHILE_REACHABLE = 3

export function createHeldOutcomes(deps: {
  store: Store
  logger: Logger
  /** Called once an outcome is recorded (`applied`: the lease was still ours) or given up. */
  settled: (message: ClaimedMessage, completion: Completion, applied: boolean) => void
}): HeldOutcomes {
  const held = new Map<
    string,
    { message: ClaimedMessage; completion: Completion; refusals: number }
  >()
  return {
    get size() {
      return held.size
    },
    ids: () => [...held.keys()],
    hold(message, completion) {
      held.set(message.id, { message, completion, refusals: 0 })
    },
    async flush() {
      for (const [id, entry] of held) {
        let applied: boolean
        try {
          applied = await deps.store.complete(entry.completion)
        } catch (error) {
          const reachable = await deps.store.msUntilNextDue().then(
            () => true,
            () => false,
          )
          if (!reachable || ++entry.refusals < MAX_REFUSALS_WHILE_REACHABLE) return false
          deps.logger.error(
            { id, err: (error as Error).message },
            'the store keeps refusing the outcome of this delivery; giving it up (the message will be sent again when its lease expires)',
          )
          held.delete(id)
          deps.settled(entry.message, entry.completion, false)
          continue
        }
        held.delete(id)
        deps.settled(entry.message, entry.completion, applied)
      }
      return true
    },
  }
}
