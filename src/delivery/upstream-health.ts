import { formatDuration } from '../config/duration.js'
import type { Logger } from '../logger.js'

/** Probe timing while the upstream is down. */
export interface ProbePolicy {
  /** First probe after the upstream is found down. @default 1000 */
  initialDelayMs: number
  /** Longest wait between probes. @default 60_000 */
  maxDelayMs: number
}

export const DEFAULT_PROBE_POLICY: Readonly<ProbePolicy> = Object.freeze({
  initialDelayMs: 1000,
  maxDelayMs: 60_000,
})

/** Probes at the first delay before the delay starts to grow: the first half minute, at 1 s. */
export const STEADY_PROBES = 30

/**
 * Wait before probe number `n` (0-based): the first delay for the first {@link STEADY_PROBES}
 * probes, then growing by half each time to the cap, ±10 % jitter. Pure. Most outages are short
 * (a restart, a deploy): probing every second for their first half minute finds the upstream
 * back within a second of its return, for one connection attempt a second; a long outage is
 * probed less and less, up to once a minute.
 */
export function probeDelay(n: number, policy: ProbePolicy, random: number): number {
  const growth = Math.max(0, Math.min(n - STEADY_PROBES + 1, 60))
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * 1.5 ** growth)
  return Math.round(base * (0.9 + 0.2 * random))
}

/** Failed probes are logged at info at most this often (each one at debug). */
export const PROBE_LOG_INTERVAL_MS = 60_000

/** Distinct messages refused with a 421 in a row (nothing delivered between) that mean "down". */
export const CLOSING_STREAK = 3

/** The upstream's state as the worker sees it. */
export interface UpstreamHealth {
  /** Delivery is paused: the upstream is unreachable or misconfigured; probing. */
  readonly isDown: boolean
  /** Down because of its configuration (TLS certificate, credentials): waiting will not fix it. */
  readonly misconfigured: boolean
  /** Last successful delivery or probe. */
  readonly lastSuccessAt: Date | null
  /** Last reason the upstream was found down. */
  readonly lastError: string | null
  /** Records that a delivery got through. */
  markUp(): void
  /**
   * Records that the upstream is unreachable, or `misconfigured` (then `reason` says the fix);
   * starts probing if not already.
   */
  markDown(reason: string, misconfigured?: boolean): void
  /**
   * Records that the server closed a message's transaction with a 421. That message is only
   * deferred; {@link CLOSING_STREAK} different messages in a row mean the upstream is down.
   */
  noteClosing(messageId: string, reason: string): void
  /** Resolves when the upstream is (back) up, at once if it is; or when `signal` aborts. */
  whenUp(signal?: AbortSignal): Promise<void>
  /** Stops probing. */
  close(): void
}

/**
 * A circuit breaker around one upstream: the first connection-level failure opens it, and
 * a single probe connection (from every second, backing off to every minute) closes it again.
 * While it is open, workers deliver nothing, so an outage costs the queue no attempts.
 *
 * A misconfigured upstream is logged as an error once (again only if the reason changes) and
 * probed like a down one, since it may be fixed on the server's side. The probe interval starts
 * over only after a delivery gets through, so an upstream that passes the probe but keeps
 * refusing mail (421s) is paused for longer and longer.
 */
export function createUpstreamHealth(options: {
  probe: () => Promise<void>
  logger: Logger
  /** The upstream as logs name it (no password). */
  name?: string
  policy?: ProbePolicy
  onUp?: () => Promise<void> | void
  /** Whether a probe's error means the upstream is misconfigured, and its reason then. */
  diagnose?: (error: unknown) => { reason: string; misconfigured: boolean }
}): UpstreamHealth {
  const policy = options.policy ?? DEFAULT_PROBE_POLICY
  const log = options.logger
  let down = false
  let misconfigured = false
  let loggedMisconfiguration: string | null = null
  let probes = 0
  let timer: NodeJS.Timeout | null = null
  let closed = false
  let lastSuccessAt: Date | null = null
  let lastError: string | null = null
  let waiters: (() => void)[] = []
  const closingStreak = new Set<string>()
  const upstream = options.name ?? 'upstream'
  /** When it went down, and when a failed probe was last logged at info. */
  let downSince = 0
  let probeLoggedAt = 0

  const up = (): void => {
    down = false
    misconfigured = false
    loggedMisconfiguration = null
    closingStreak.clear()
    lastSuccessAt = new Date()
    const woken = waiters
    waiters = []
    for (const resolve of woken) resolve()
  }

  /** Loud, once per reason: an operator has to act, and repeating it every probe helps nobody. */
  const reportMisconfiguration = (reason: string): void => {
    misconfigured = true
    if (loggedMisconfiguration === reason) return
    loggedMisconfiguration = reason
    log.error(
      { reason },
      `${reason} Delivery is paused until this is fixed; messages keep their attempts and do not expire meanwhile.`,
    )
  }

  /** Once a minute while it lasts: what the probes find, and what to do. */
  function logProbeFailure(reason: string, isMisconfigured: boolean, downForMs: number): void {
    const next = formatDuration(probeDelay(probes, policy, 0.5))
    const advice = isMisconfigured
      ? 'Fix it as the reason says'
      : 'Check that the upstream is running and that this machine reaches it (host, port, firewall, DNS)'
    log.info(
      { upstream, reason, downForMs, probes, misconfigured: isMisconfigured },
      `upstream still ${isMisconfigured ? 'misconfigured' : 'unreachable'} after ${formatDuration(downForMs)}: ${reason}. ` +
        `${advice}; \`outbox stats\` shows it too. Delivery is paused and messages spend no attempts meanwhile; ` +
        `next probe in about ${next} (logged once a minute).`,
    )
  }

  function markDown(reason: string, isMisconfigured = false): void {
    lastError = reason
    if (closed) return
    if (isMisconfigured) reportMisconfiguration(reason)
    if (down) return
    down = true
    downSince = Date.now()
    probeLoggedAt = 0
    if (!isMisconfigured) {
      log.warn({ upstream, reason }, 'upstream unreachable; pausing delivery and probing')
    }
    schedule()
  }

  const schedule = (): void => {
    if (closed) return
    const delay = probeDelay(probes, policy, Math.random())
    probes++
    timer = setTimeout(() => {
      timer = null
      options.probe().then(
        async () => {
          const downForMs = Date.now() - downSince
          log.info(
            { upstream, downForMs, probes },
            `upstream is reachable again after ${formatDuration(downForMs)}; resuming delivery`,
          )
          try {
            await options.onUp?.()
          } finally {
            up()
          }
        },
        (error: unknown) => {
          const diagnosis = options.diagnose?.(error) ?? {
            reason: error instanceof Error ? error.message : String(error),
            misconfigured: false,
          }
          lastError = diagnosis.reason
          if (diagnosis.misconfigured) reportMisconfiguration(diagnosis.reason)
          else misconfigured = false
          const now = Date.now()
          if (now - probeLoggedAt >= PROBE_LOG_INTERVAL_MS) {
            probeLoggedAt = now
            logProbeFailure(diagnosis.reason, diagnosis.misconfigured, now - downSince)
          } else log.debug({ upstream, err: lastError, probe: probes }, 'upstream probe failed')
          schedule()
        },
      )
    }, delay)
    timer.unref()
  }

  return {
    get isDown() {
      return down
    },
    get misconfigured() {
      return misconfigured
    },
    get lastSuccessAt() {
      return lastSuccessAt
    },
    get lastError() {
      return lastError
    },
    markUp() {
      lastSuccessAt = new Date()
      closingStreak.clear()
      if (!down) probes = 0
    },
    markDown,
    noteClosing(messageId: string, reason: string) {
      closingStreak.add(messageId)
      if (closingStreak.size < CLOSING_STREAK) return
      closingStreak.clear()
      markDown(
        `${CLOSING_STREAK} messages in a row were refused with 421 (service not available): ${reason}`,
      )
    },
    whenUp(signal?: AbortSignal) {
      if (!down || signal?.aborted) return Promise.resolve()
      return new Promise<void>((resolve) => {
        // The worker waits again and again with its one stop signal: each wait must take its
        // listener away when it ends, or they pile up for the life of the worker.
        const done = (): void => {
          signal?.removeEventListener('abort', done)
          waiters = waiters.filter((w) => w !== done)
          resolve()
        }
        waiters.push(done)
        signal?.addEventListener('abort', done, { once: true })
      })
    },
    close() {
      closed = true
      if (timer) clearTimeout(timer)
      timer = null
      const woken = waiters
      waiters = []
      for (const resolve of woken) resolve()
    },
  }
}
