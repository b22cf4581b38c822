import { once } from 'node:events'
import type { Writable } from 'node:stream'

/**
 * Lines written to stdout by a command that may print for a long time (`outbox events
 * --follow`). Into a pipe, stdout may be asynchronous: a slow reader must slow the command
 * down rather than let lines pile up in memory, and a reader that went away (`| head -1`,
 * EPIPE) must end the command quietly rather than crash it.
 */
export interface LineOutput {
  /** Writes one line; resolves once the stream takes more (or `signal` aborts, or it closed). */
  write(line: string): Promise<void>
  /** True once the reader went away: stop producing. */
  readonly closed: boolean
}

export function createLineOutput(
  out: Writable,
  signal: AbortSignal,
  /** Called once when the reader went away. */
  onClosed: () => void,
): LineOutput {
  let closed = false
  const onError = (error: NodeJS.ErrnoException) => {
    if (closed) return
    closed = true
    // Anything but a reader that left is still worth knowing about, but not worth a stack.
    if (error.code !== 'EPIPE')
      process.stderr.write(`outbox: cannot write stdout: ${error.message}\n`)
    onClosed()
  }
  // Kept until the process ends: a write still queued may fail after the command finished.
  out.on('error', onError)
  return {
    get closed() {
      return closed
    },
    async write(line) {
      if (closed) return
      if (out.write(`${line}\n`)) return
      // Waits for room; an abort (SIGINT while the reader is stuck) or an error ends the wait.
      await once(out, 'drain', { signal }).catch(() => {})
    },
  }
}
