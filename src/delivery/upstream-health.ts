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

/**
 * Wait before probe number `n` (0-based): growing by half each time from the first delay to the
 * cap, ±10 % jitter. Pure. The slow growth keeps short outages short: after a 10 s outage the
 * next probe is at most a few seconds away (1, 2.5, 4.8, 8.1, 13.2 s, … after the failure).
 */
export function probeDelay(n: number, policy: ProbePolicy, random: number): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * 1.5 ** Math.min(n, 60))
  return Math.round(base * (0.9 + 0.2 * random))
}

/** The upstream's state as the worker sees it. */
export interface UpstreamHealth {
  readonly isDown: boolean
  /** Last successful delivery or probe. */
  readonly lastSuccessAt: Date | null
  /** Last reason the upstream was found down. */
  readonly lastError: string | null
  /** Records that a delivery got through. */
  markUp(): void
  /** Records that the upstream is unreachable; starts probing if not already. */
  markDown(reason: string): void
  /** Resolves when the upstream is (back) up, at once if it is; or when `signal` aborts. */
  whenUp(signal?: AbortSignal): Promise<void>
  /** Stops probing. */
  close(): void
}

/**
 * A circuit breaker around one upstream: the first connection-level failure opens it, and
 * a single probe connection (from every second, backing off to every minute) closes it again. While it is open,
 * workers deliver nothing, so an outage costs the queue no attempts.
 */
export function createUpstreamHealth(options: {
  probe: () => Promise<void>
  logger: Logger
  policy?: ProbePolicy
  onUp?: () => Promise<void> | void
}): UpstreamHealth {
  const policy = options.policy ?? DEFAULT_PROBE_POLICY
  let down = false
  let probes = 0
  let timer: NodeJS.Timeout | null = null
  let closed = false
  let lastSuccessAt: Date | null = null
  let lastError: string | null = null
  let waiters: (() => void)[] = []

  const up = (): void => {
    down = false
    probes = 0
    lastSuccessAt = new Date()
    const woken = waiters
    waiters = []
    for (const resolve of woken) resolve()
  }

  const schedule = (): void => {
    if (closed) return
    const delay = probeDelay(probes, policy, Math.random())
    probes++
    timer = setTimeout(() => {
      timer = null
      options.probe().then(
        async () => {
          options.logger.info(
            { upstreamDownFor: probes },
            'upstream is reachable again; resuming delivery',
          )
          try {
            await options.onUp?.()
          } finally {
            up()
          }
        },
        (error: unknown) => {
          lastError = error instanceof Error ? error.message : String(error)
          options.logger.debug({ err: lastError, probe: probes }, 'upstream probe failed')
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
    get lastSuccessAt() {
      return lastSuccessAt
    },
    get lastError() {
      return lastError
    },
    markUp() {
      lastSuccessAt = new Date()
    },
    markDown(reason: string) {
      lastError = reason
      if (down || closed) return
      down = true
      options.logger.warn({ reason }, 'upstream unreachable; pausing delivery and probing')
      schedule()
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
