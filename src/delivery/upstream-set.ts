import type { RateLimit } from '../config/rate-limit.js'
import type { RoutingSettings } from '../config/routing-settings.js'
import type { Logger } from '../logger.js'
import { diagnoseProbeError } from './classify-error.js'
import { createLearnedLimit, type LearnedLimit } from './learned-limit.js'
import { createUpstream, type Upstream, type UpstreamSpec } from './upstream.js'
import { createUpstreamHealth, type ProbePolicy, type UpstreamHealth } from './upstream-health.js'

/** One named upstream in this process: its connections, its breaker, its limits. */
export interface UpstreamRuntime {
  readonly name: string
  readonly upstream: Upstream
  readonly health: UpstreamHealth
  /**
   * Configured rate, shared by every worker on the store (bucket `upstream:<name>`). Changed
   * by a config reload; the bucket's key (and so its state in the store) stays the same.
   */
  readonly rateLimit: RateLimit | null
  setRateLimit(limit: RateLimit | null): void
  /** Without a configured rate: the one learned from its "slow down" replies, while it lasts. */
  readonly learned: LearnedLimit
  /** The rate its sends take tokens at, per second: configured, else learned; null for none. */
  limitPerSecond(): number | null
  /** Most sends at once through it from this process. */
  readonly maxConnections: number
  /** Sends under way now. */
  readonly inUse: number
  /** When it was last found down, while it is. */
  readonly downSince: Date | null
  /** When its breaker last recorded an error. */
  readonly lastErrorAt: Date | null
  /** Waits for a free connection (FIFO); resolves false if `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<boolean>
  release(): void
}

/** The upstreams of one Outbox, by name, and what they are together. */
export interface UpstreamSet {
  readonly names: readonly string[]
  get(name: string): UpstreamRuntime | undefined
  all(): UpstreamRuntime[]
  /**
   * All of them together: down when every one is (then nothing can be delivered and workers
   * pause, as with a single upstream), up as soon as one is.
   */
  readonly health: UpstreamHealth
  /** Resolves when some upstream accepts a connection; rejects when none does. */
  probeAny(): Promise<void>
  /**
   * Calls `listener` with an upstream's name whenever a probe finds it back (after its breaker
   * closed), e.g. to wake the messages its outage parked. Returns a function that unsubscribes.
   */
  onUp(listener: (name: string) => void): () => void
  /** For logs: each name and where it goes (no passwords). */
  readonly description: string
  close(): Promise<void>
}

/** Turns a rate limit into tokens per second. */
export function perSecond(limit: RateLimit): number {
  return (limit.count * 1000) / limit.perMs
}

function createRuntime(
  name: string,
  upstream: Upstream,
  health: UpstreamHealth,
  initialRateLimit: RateLimit | null,
  maxConnections: number,
): UpstreamRuntime {
  let rateLimit = initialRateLimit
  let inUse = 0
  const learned = createLearnedLimit()
  let downSince: Date | null = null
  let lastError: string | null = null
  let lastErrorAt: Date | null = null
  const waiters: (() => void)[] = []
  return {
    name,
    upstream,
    health,
    get rateLimit() {
      return rateLimit
    },
    setRateLimit(limit) {
      rateLimit = limit
    },
    learned,
    limitPerSecond: () => (rateLimit ? perSecond(rateLimit) : learned.current()),
    maxConnections,
    get inUse() {
      return inUse
    },
    get lastErrorAt() {
      if (health.lastError !== lastError) {
        lastError = health.lastError
        lastErrorAt = lastError === null ? null : new Date()
      }
      return lastErrorAt
    },
    get downSince() {
      if (!health.isDown) downSince = null
      else downSince ??= new Date()
      return downSince
    },
    acquire(signal) {
      if (inUse < maxConnections) {
        inUse++
        return Promise.resolve(true)
      }
      return new Promise<boolean>((resolve) => {
        const onAbort = (): void => {
          const i = waiters.indexOf(grant)
          if (i >= 0) waiters.splice(i, 1)
          resolve(false)
        }
        const grant = (): void => {
          signal?.removeEventListener('abort', onAbort)
          inUse++
          resolve(true)
        }
        waiters.push(grant)
        signal?.addEventListener('abort', onAbort, { once: true })
      })
    },
    release() {
      inUse--
      const next = waiters.shift()
      next?.()
    },
  }
}

/**
 * Creates every upstream of the routing settings, each with its own connections and its own
 * breaker (probing only it), and the aggregate the worker pauses on. Throws ConfigError for an
 * upstream it cannot use, after closing the ones already made.
 */
export function createUpstreamSet(
  routing: RoutingSettings<UpstreamSpec>,
  options: {
    concurrency: number
    maxMessagesPerConnection: number
    maxConnectionAgeMs: number
    probe: ProbePolicy
    logger: Logger
  },
): UpstreamSet {
  const runtimes = new Map<string, UpstreamRuntime>()
  const upListeners = new Set<(name: string) => void>()
  try {
    for (const [name, setting] of routing.upstreams) {
      const maxConnections = setting.maxConnections ?? options.concurrency
      const upstream = createUpstream(setting.spec, {
        maxConnections,
        maxMessagesPerConnection: options.maxMessagesPerConnection,
        maxConnectionAgeMs: options.maxConnectionAgeMs,
        logger: options.logger,
      })
      const label =
        routing.upstreams.size > 1 ? `${name} (${upstream.description})` : upstream.description
      const health = createUpstreamHealth({
        probe: () => upstream.probe(),
        logger: options.logger,
        name: label,
        policy: options.probe,
        diagnose: diagnoseProbeError,
        // Called just before the breaker closes: tell the listeners once it has.
        onUp: () => {
          setImmediate(() => {
            for (const listener of upListeners) listener(name)
          })
        },
      })
      runtimes.set(name, createRuntime(name, upstream, health, setting.rateLimit, maxConnections))
    }
  } catch (error) {
    for (const r of runtimes.values()) {
      r.health.close()
      void r.upstream.close()
    }
    throw error
  }
  const all = [...runtimes.values()]
  const everyDown = (): boolean => all.every((r) => r.health.isDown)

  const health: UpstreamHealth = {
    get isDown() {
      return everyDown()
    },
    get misconfigured() {
      return everyDown() && all.some((r) => r.health.misconfigured)
    },
    get lastSuccessAt() {
      const times = all.map((r) => r.health.lastSuccessAt?.getTime() ?? 0)
      const latest = Math.max(...times)
      return latest > 0 ? new Date(latest) : null
    },
    get lastError() {
      return all.find((r) => r.health.isDown)?.health.lastError ?? all[0]!.health.lastError
    },
    markUp: () => undefined,
    markDown: () => undefined,
    noteClosing: () => undefined,
    async whenUp(signal) {
      if (!everyDown() || signal?.aborted) return
      // The first of them to come back ends every wait, so no listener outlives the call.
      const done = new AbortController()
      const stop = (): void => done.abort()
      signal?.addEventListener('abort', stop, { once: true })
      try {
        await Promise.race(all.map((r) => r.health.whenUp(done.signal)))
      } finally {
        signal?.removeEventListener('abort', stop)
        done.abort()
      }
    },
    close() {
      for (const r of all) r.health.close()
    },
  }

  return {
    names: [...runtimes.keys()],
    get: (name) => runtimes.get(name),
    all: () => all,
    health,
    async probeAny() {
      const results = await Promise.allSettled(all.map((r) => r.upstream.probe()))
      const ok = results.find((r) => r.status === 'fulfilled')
      if (!ok) throw (results[0] as PromiseRejectedResult).reason
    },
    onUp(listener) {
      upListeners.add(listener)
      return () => upListeners.delete(listener)
    },
    description:
      all.length === 1
        ? all[0]!.upstream.description
        : all.map((r) => `${r.name}: ${r.upstream.description}`).join(', '),
    async close() {
      health.close()
      await Promise.all(all.map((r) => r.upstream.close()))
    },
  }
}
