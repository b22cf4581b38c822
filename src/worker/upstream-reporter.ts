import type { UpstreamSet } from '../delivery/upstream-set.js'
import type { Logger } from '../logger.js'
import type { Store, UpstreamReport } from '../store/store.js'

/** How often a worker tells the store what it sees of its upstreams. */
export const REPORT_INTERVAL_MS = 5_000
/** A report older than this is from a worker that died without saying so: it no longer counts. */
export const REPORT_TTL_MS = 3 * REPORT_INTERVAL_MS

/** What this process sees of each upstream now. */
export function upstreamReports(upstreams: UpstreamSet): UpstreamReport[] {
  return upstreams.all().map((r) => ({
    upstream: r.name,
    down: r.health.isDown,
    downSince: r.downSince,
    misconfigured: r.health.misconfigured,
    lastError: r.health.lastError,
    lastErrorAt: r.lastErrorAt,
    connections: r.inUse,
  }))
}

/**
 * Keeps the store told what this worker sees of its upstreams (breaker state, connections in
 * use, last error), so `outbox upstreams` and the dashboard of any process show every worker's
 * view: at once when a breaker opens or closes, else every {@link REPORT_INTERVAL_MS}. On stop,
 * its reports are removed. A store error is logged at debug and tried again next time.
 */
export function createUpstreamReporter(
  store: Store,
  worker: string,
  upstreams: UpstreamSet,
  log: Logger,
): { stop(): Promise<void> } {
  let stopped = false
  let last = ''
  let inFlight: Promise<void> = Promise.resolve()
  const report = (force: boolean): void => {
    const reports = upstreamReports(upstreams)
    const states = JSON.stringify(reports.map((r) => [r.down, r.misconfigured]))
    if (!force && states === last) return
    last = states
    inFlight = inFlight
      .then(() => store.reportUpstreams(worker, reports, REPORT_TTL_MS))
      .catch((error: unknown) =>
        log.debug({ err: (error as Error).message }, 'could not report upstream state'),
      )
  }
  report(true)
  const timer = setInterval(() => report(true), REPORT_INTERVAL_MS)
  timer.unref()
  // A breaker that opens is told at once: checked often, written only on a change.
  const watch = setInterval(() => report(false), 250)
  watch.unref()
  return {
    async stop() {
      if (stopped) return
      stopped = true
      clearInterval(timer)
      clearInterval(watch)
      await inFlight
      await Promise.resolve()
        .then(() => store.reportUpstreams(worker, [], REPORT_TTL_MS))
        .catch(() => undefined)
    },
  }
}
