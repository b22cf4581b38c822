import { MessageNotFoundError } from '../errors.js'
import type { MessageStatus } from '../message/types.js'
import type { MessageDetail, Store } from '../store/store.js'

/** Queue inspection and management, shared by the CLI and the HTTP API. */
export interface Admin {
  /** One message with its recipients and attempt log. Throws `MessageNotFoundError`. */
  getMessage(id: string): Promise<MessageDetail>
  /** The stored RFC 5322 bytes of a message. Throws `MessageNotFoundError`. */
  getRaw(id: string): Promise<Buffer>
  /** Number of messages in each status. */
  countByStatus(): Promise<Record<MessageStatus, number>>
}

export function createAdmin(store: Store): Admin {
  return {
    async getMessage(id) {
      const message = await store.getMessage(id)
      if (!message) throw new MessageNotFoundError(id)
      return message
    },
    async getRaw(id) {
      const raw = await store.getRaw(id)
      if (!raw) throw new MessageNotFoundError(id)
      return raw
    },
    countByStatus: () => store.countByStatus(),
  }
}
