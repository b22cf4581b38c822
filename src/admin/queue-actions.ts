import { MESSAGE_STATUSES, type MessageStatus } from '../message/types.js'

/** What an operator can do to messages, from the CLI, the HTTP API and the dashboard. */
export const QUEUE_ACTIONS = ['retry', 'hold', 'release', 'delete'] as const
export type QueueAction = (typeof QUEUE_ACTIONS)[number]

/**
 * The statuses each action applies to; a message in any other status is left unchanged.
 * - `retry`: deferred messages become due now; failed ones are requeued (failed recipients only).
 * - `hold`: waiting messages are set aside until released.
 * - `release`: held messages go back in the queue.
 * - `delete`: any message, with its attempt log.
 */
export const ACTION_APPLIES_TO: Readonly<Record<QueueAction, readonly MessageStatus[]>> =
  Object.freeze({
    retry: ['deferred', 'failed'],
    hold: ['queued', 'deferred'],
    release: ['held'],
    delete: MESSAGE_STATUSES,
  })

/** Why `action` left a message in `status` alone, for people: "it is sent; only …". */
export function whyUnchanged(action: QueueAction, status: MessageStatus): string {
  const applies = ACTION_APPLIES_TO[action]
  const list =
    applies.length === 1 ? applies[0]! : `${applies.slice(0, -1).join(', ')} or ${applies.at(-1)!}`
  return `it is ${status}; only ${list} messages can be ${PAST[action]}`
}

const PAST: Record<QueueAction, string> = {
  retry: 'retried',
  hold: 'held',
  release: 'released',
  delete: 'deleted',
}
