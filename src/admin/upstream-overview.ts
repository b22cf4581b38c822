import { formatRateLimit } from '../config/rate-limit.js'
import type { RoutingSettings } from '../config/routing-settings.js'
import { FORGET_AFTER_MS } from '../delivery/learned-limit.js'
import type { RateBucketState, Store, WorkerUpstreamReport } from '../store/store.js'

/** One upstream as every worker on the store sees it: what `outbox upstreams` prints. */
export interface UpstreamOverview {
  name: string
  /**
   * `up`; `down` (its breaker is open in some worker, which probes it); `unknown` when no
   * running worker reports on it (none is running, or none has it configured).
   */
  state: 'up' | 'down' | 'unknown'
  /** The earliest a reporting worker found it down, while it is. */
  downSince: Date | null
  misconfigured: boolean
  /** The configured rate (`14/s`), or null for none. */
  rateLimit: string | null
  /**
   * Messages per second it runs at now: below the configured rate after throttling; for one
   * with no rate configured, the rate adaptive throttling holds it to after it asked to slow
   * down (for ten minutes after the last time it did), else null.
   */
  currentRatePerSec: number | null
  configuredRatePerSec: number | null
  /** Last time a "too fast" reply halved its rate. */
  throttledAt: Date | null
  /** Most sends at once from one worker. */
  maxConnections: number | null
  /** Sends under way now, in every reporting worker. */
  connections: number
  /** Workers reporting on it. */
  workers: number
  /** Attempts through it in the last hour. */
  lastHour: { sent: number; deferred: number; failed: number }
  lastError: { at: Date | null; error: string } | null
}

/** A rate-limited recipient domain. */
export interface DomainLimitOverview {
  domain: string
  rateLimit: string
  configuredRatePerSec: number
  currentRatePerSec: number
  throttledAt: Date | null
}

export interface RoutingOverview {
  upstreams: UpstreamOverview[]
  domains: DomainLimitOverview[]
}

const perSecond = (limit: { count: number; perMs: number }): number =>
  (limit.count * 1000) / limit.perMs

/**
 * Puts together the configured upstreams (of this process's configuration), the store's shared
 * buckets, the running workers' reports and the last hour's attempts.
 */
export async function routingOverview(
  store: Store,
  routing: RoutingSettings,
  now: Date = new Date(),
): Promise<RoutingOverview> {
  const [reports, buckets, activity] = await Promise.all([
    store.upstreamReports(),
    store.rateBuckets(),
    store.upstreamActivity(new Date(now.getTime() - 3_600_000)),
  ])
  const bucket = new Map<string, RateBucketState>(buckets.map((b) => [b.key, b]))
  const lastHour = new Map<string, { sent: number; deferred: number; failed: number }>()
  for (const a of activity) {
    // An attempt split over several upstreams is recorded as `a+b`: it counts for each.
    for (const name of a.upstream.split('+')) {
      const counts = lastHour.get(name) ?? { sent: 0, deferred: 0, failed: 0 }
      counts.sent += a.sent
      counts.deferred += a.deferred
      counts.failed += a.failed
      lastHour.set(name, counts)
    }
  }
  const byUpstream = new Map<string, WorkerUpstreamReport[]>()
  for (const r of reports) byUpstream.set(r.upstream, [...(byUpstream.get(r.upstream) ?? []), r])

  const names = [...new Set([...routing.upstreams.keys(), ...byUpstream.keys()])]
  const upstreams = names.map((name): UpstreamOverview => {
    const setting = routing.upstreams.get(name)
    const seen = byUpstream.get(name) ?? []
    const down = seen.filter((r) => r.down)
    const errors = seen
      .filter((r) => r.lastError !== null)
      .sort((a, b) => (b.lastErrorAt?.getTime() ?? 0) - (a.lastErrorAt?.getTime() ?? 0))
    const b = bucket.get(`upstream:${name}`)
    const configured = setting?.rateLimit ? perSecond(setting.rateLimit) : null
    return {
      name,
      state: seen.length === 0 ? 'unknown' : down.length > 0 ? 'down' : 'up',
      downSince:
        down.length === 0
          ? null
          : new Date(
              Math.min(...down.map((r) => r.downSince?.getTime() ?? r.reportedAt.getTime())),
            ),
      misconfigured: down.some((r) => r.misconfigured),
      rateLimit: setting?.rateLimit ? formatRateLimit(setting.rateLimit) : null,
      configuredRatePerSec: configured,
      currentRatePerSec:
        configured !== null
          ? Math.min(configured, b?.rate ?? configured)
          : b?.throttledAt && now.getTime() - b.throttledAt.getTime() <= FORGET_AFTER_MS
            ? b.rate
            : null,
      throttledAt: b?.throttledAt ?? null,
      maxConnections: setting?.maxConnections ?? null,
      connections: seen.reduce((n, r) => n + r.connections, 0),
      workers: seen.length,
      lastHour: lastHour.get(name) ?? { sent: 0, deferred: 0, failed: 0 },
      lastError: errors[0] ? { at: errors[0].lastErrorAt, error: errors[0].lastError! } : null,
    }
  })
  const domains = [...routing.domainLimits].map(([domain, limit]): DomainLimitOverview => {
    const b = bucket.get(`domain:${domain}`)
    const configured = perSecond(limit)
    return {
      domain,
      rateLimit: formatRateLimit(limit),
      configuredRatePerSec: configured,
      currentRatePerSec: Math.min(configured, b?.rate ?? configured),
      throttledAt: b?.throttledAt ?? null,
    }
  })
  return { upstreams, domains }
}
