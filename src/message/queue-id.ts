import { randomBytes } from 'node:crypto'

// Crockford's base32: no I, L, O, U, so ids read aloud or typed from a log are unambiguous.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'

/**
 * A new queue id: 10 characters of millisecond time then 10 random ones (a ULID in lower case),
 * so ids sort by creation time in every store and never collide between processes.
 */
export function createQueueId(now: number = Date.now()): string {
  let time = ''
  let t = now
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32]! + time
    t = Math.floor(t / 32)
  }
  const bytes = randomBytes(10)
  let random = ''
  for (const byte of bytes) random += ALPHABET[byte % 32]!
  return time + random
}
