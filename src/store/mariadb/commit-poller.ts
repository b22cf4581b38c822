import type { Logger } from '../../logger.js'

/** Poll intervals: short after new work was seen, growing to the longest while none comes. */
const FAST_MS = 50
const SLOW_MS = 250
/** How long after new work the poll stays fast. */
const FAST_FOR_MS = 5000

/**
 * What one poll reads: the newest message's creation time, whether anything is due now, and
 * the newest SQL submission's seq (`CALL <prefix>enqueue()`: mail that is not a message yet).
 */
export interface WorkMark {
  newest: number | null
  due: boolean
  submitted?: number | null
}

/**
 * MariaDB and MySQL have no LISTEN/NOTIFY: workers of other processes learn of new work by a
 * short poll of one cheap statement (a few index seeks). It runs only while this process has
 * listeners (workers) and they are idle: while `busy()` (their claims keep finding work, and
 * they claim again by themselves) it reads nothing. It calls `onWork` when a message newer
 * than any seen arrived, when something became due, or when mail was enqueued with SQL.
 * Workers in the same process are woken at once by the store itself and never wait for it.
 */
export function startCommitPoller(options: {
  read: () => Promise<WorkMark>
  busy: () => boolean
  onWork: () => void
  logger: Logger
}): () => void {
  let stopped = false
  let timer: NodeJS.Timeout | null = null
  let last: WorkMark | null = null
  let lastChangeAt = 0
  let failing = false

  const schedule = (): void => {
    if (stopped) return
    const ms = Date.now() - lastChangeAt < FAST_FOR_MS ? FAST_MS : SLOW_MS
    timer = setTimeout(() => void poll(), ms)
    timer.unref()
  }

  const poll = async (): Promise<void> => {
    timer = null
    // Skipped while busy; the first read after compares with the last one before, so work
    // that arrived meanwhile still wakes the workers once.
    if (options.busy()) return schedule()
    try {
      const mark = await options.read()
      if (failing) options.logger.info({}, 'MariaDB wake-up poll works again')
      failing = false
      const fresh = last !== null && (mark.newest ?? 0) > (last.newest ?? 0)
      const becameDue = last !== null && mark.due && !last.due
      const submitted = last !== null && (mark.submitted ?? 0) > (last.submitted ?? 0)
      last = mark
      if (!stopped && (fresh || becameDue || submitted)) {
        lastChangeAt = Date.now()
        options.onWork()
      }
    } catch (error) {
      if (!failing) {
        options.logger.warn({ err: (error as Error).message }, 'MariaDB wake-up poll failed')
      }
      failing = true
    }
    schedule()
  }

  void poll()
  return () => {
    stopped = true
    if (timer) clearTimeout(timer)
    timer = null
  }
}
