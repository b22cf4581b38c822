/**
 * A latch the worker sleeps on: `wake()` ends the current sleep, or the next one if none is in
 * progress, so a wake-up that arrives while the worker is busy querying is never lost.
 */
export interface Waker {
  wake(): void
  /** Resolves on `wake()` or after `ms`. */
  sleep(ms: number): Promise<void>
}

export function createWaker(): Waker {
  let pending = false
  let current: (() => void) | null = null
  return {
    wake() {
      if (current) current()
      else pending = true
    },
    sleep(ms) {
      if (pending) {
        pending = false
        return Promise.resolve()
      }
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => end(), ms)
        const end = (): void => {
          clearTimeout(timer)
          current = null
          resolve()
        }
        current = end
      })
    },
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve()
    // Whichever comes first undoes the other: a worker calls this in a loop with one signal.
    const done = (): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}
