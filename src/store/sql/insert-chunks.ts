import type { NewMessage } from '../store.js'

/**
 * Splits a batch of new messages into runs that one insert statement can carry: at most
 * `maxRows` messages and, unless a single message is larger, `maxBytes` of message bytes.
 */
export function insertChunks(
  messages: readonly NewMessage[],
  limits: { maxRows: number; maxBytes: number },
): NewMessage[][] {
  const out: NewMessage[][] = []
  let current: NewMessage[] = []
  let bytes = 0
  for (const m of messages) {
    if (
      current.length >= limits.maxRows ||
      (current.length > 0 && bytes + m.raw.length > limits.maxBytes)
    ) {
      out.push(current)
      current = []
      bytes = 0
    }
    current.push(m)
    bytes += m.raw.length
  }
  if (current.length > 0) out.push(current)
  return out
}
