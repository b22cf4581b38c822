/**
 * How many connections to one upstream Outbox holds, learned from the upstream. Many servers
 * cap connections per client (Postfix's `smtpd_client_connection_count_limit`, providers'
 * per-account limits) and refuse one more with a 4xx greeting, typically `421 4.7.0 Too many
 * connections`. Such a refusal, while other connections to the same upstream are open, says
 * "this many and no more", not "down": the limit drops to the connections that are open, they
 * keep sending, and one more is tried only after a while (a minute, doubling after every
 * further refusal up to half an hour), since the server's limit may have been raised or may
 * have counted connections that were just closing. What is learned is kept for the life of the
 * process. Pure: the caller passes the time.
 */
export interface ConnectionLimit {
  /** Connections that may be open (or opening) now. */
  readonly current: number
  /** The configured most. */
  readonly max: number
  /**
   * Whether one connection beyond {@link current} may be tried now; if so, {@link current} is
   * raised by one until that connection opens or is refused. The outcome of that connection is
   * reported with `grew: true`.
   */
  tryGrow(now: number): boolean
  /** A new connection opened. */
  opened(now: number, grew: boolean): void
  /** A new connection failed for another reason (the upstream is down): a try to grow is undone. */
  failed(grew: boolean): void
  /**
   * A new connection was refused while `others` connections were open or opening: the limit
   * becomes `others`. Returns the new limit and when one more will be tried.
   */
  refused(others: number, now: number, grew: boolean): { limit: number; retryAt: number }
}

/** Wait before trying one connection more than the upstream last took. */
export const GROW_DELAY_MS = 60_000
/** Longest wait between such tries, after repeated refusals. */
export const MAX_GROW_DELAY_MS = 30 * 60_000

export function createConnectionLimit(max: number): ConnectionLimit {
  let current = max
  let growDelay = GROW_DELAY_MS
  let growAt = 0
  let growing = false

  return {
    get current() {
      return current
    },
    max,
    tryGrow(now) {
      if (growing || current >= max || now < growAt) return false
      growing = true
      current++
      return true
    },
    opened(now, grew) {
      if (!grew) return
      // The upstream took one more: keep it, and try the next one a while later.
      growing = false
      growAt = now + growDelay
    },
    failed(grew) {
      if (!grew) return
      growing = false
      current--
    },
    refused(others, now, grew) {
      if (grew) {
        growing = false
        growDelay = Math.min(growDelay * 2, MAX_GROW_DELAY_MS)
      }
      current = Math.max(1, Math.min(current, others))
      growAt = now + growDelay
      return { limit: current, retryAt: growAt }
    },
  }
}
