import type { Logger } from './logger.js'
import type { Priority } from './message/types.js'
import type { AttemptRecord, Completion } from './store/store.js'

/**
 * What an Outbox reports as it works, for metrics and dashboards: subscribe with
 * `outbox.observe()`. Events describe this process's own work; the queue as a whole (counts,
 * oldest message) is in the store, through `outbox.admin`.
 */
export type OutboxEvent =
  | {
      type: 'enqueued'
      id: string
      priority: Priority
    }
  | {
      type: 'attempt'
      id: string
      /** The attempt log entry: outcome, error, per-recipient replies. */
      attempt: AttemptRecord
      /** The message's status after the attempt. */
      status: Completion['status']
      /** Why it failed or was deferred: `rejected`, `expired`, `upstream-down`, … */
      reason: string | null
      /** From enqueue to the end of this attempt. */
      queuedMs: number
    }

/** Fans events out to listeners; a throwing listener is logged, never breaks a delivery. */
export interface EventHub {
  emit(event: OutboxEvent): void
  subscribe(listener: (event: OutboxEvent) => void): () => void
}

export function createEventHub(logger: Logger): EventHub {
  const listeners = new Set<(event: OutboxEvent) => void>()
  return {
    emit(event) {
      for (const listener of listeners) {
        try {
          listener(event)
        } catch (error) {
          logger.error({ err: (error as Error).message, event: event.type }, 'event listener threw')
        }
      }
    },
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
  }
}

/** The attempt event for a recorded completion. */
export function attemptEvent(completion: Completion, createdAt: Date): OutboxEvent {
  return {
    type: 'attempt',
    id: completion.id,
    attempt: completion.attempt,
    status: completion.status,
    reason: completion.reason,
    queuedMs: Date.now() - createdAt.getTime(),
  }
}
