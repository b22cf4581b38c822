import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { OutboxEvent } from '../events.js'
import { MESSAGE_STATUSES } from '../message/types.js'
import type { Outbox } from '../outbox.js'
import type { AttemptRecord } from '../store/store.js'

/** Prometheus metrics of one Outbox; serve `registry.metrics()` at `/metrics`. */
export interface OutboxMetrics {
  readonly registry: Registry
  /** The Prometheus text format, with the queue gauges read from the store just now. */
  render(): Promise<string>
  /** Stops listening to the Outbox. */
  close(): void
}

/** Where delivery latency (enqueue → delivered) falls: from "instant" to "after an outage". */
const LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600]

/**
 * The label for an attempt's error: the SMTP reply code of the first refused recipient, else
 * the system error code (ECONNREFUSED, ETIMEDOUT…), else `other`. Bounded, so safe as a label.
 */
export function upstreamErrorCode(attempt: AttemptRecord): string | null {
  if (attempt.outcome === 'sent' || attempt.outcome === 'captured') return null
  const refused = attempt.recipients.find((r) => r.status !== 'sent' && r.code !== null)
  if (refused?.code) return String(refused.code)
  const errno = /\b(E[A-Z][A-Z_]{2,})\b/.exec(attempt.error ?? '')
  if (errno) return errno[1]!
  return attempt.error === null ? null : 'other'
}

/** `damaged: the stored bytes are missing` → `damaged`: reasons become a short, bounded label. */
function reasonLabel(reason: string | null): string {
  if (!reason) return 'unknown'
  return (/^[a-z-]+/.exec(reason)?.[0] ?? 'other').slice(0, 32)
}

/**
 * Counters fed by this process's events (what its worker and `send()` did), and gauges of the
 * queue as a whole read from the store at scrape time (right even when workers run elsewhere).
 */
export function createOutboxMetrics(outbox: Outbox): OutboxMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'outbox_process_' })
  const registers = [registry]

  const enqueued = new Counter({
    name: 'outbox_messages_enqueued_total',
    help: 'Messages stored by this process, by priority.',
    labelNames: ['priority'],
    registers,
  })
  const sent = new Counter({
    name: 'outbox_messages_sent_total',
    help: 'Messages delivered by this process (captured ones with captured="true"), by upstream.',
    labelNames: ['captured', 'upstream'],
    registers,
  })
  const deferred = new Counter({
    name: 'outbox_messages_deferred_total',
    help: 'Delivery attempts by this process that left the message for a later try, by reason and upstream.',
    labelNames: ['reason', 'upstream'],
    registers,
  })
  const failed = new Counter({
    name: 'outbox_messages_failed_total',
    help: 'Messages that failed for good in this process, by reason and upstream.',
    labelNames: ['reason', 'upstream'],
    registers,
  })
  const upstreamErrors = new Counter({
    name: 'outbox_upstream_errors_total',
    help: 'Errors from the upstreams seen by this process, by upstream and SMTP reply code or system error code.',
    labelNames: ['code', 'upstream'],
    registers,
  })
  const latency = new Histogram({
    name: 'outbox_delivery_latency_seconds',
    help: 'From enqueue to delivery, for messages this process delivered.',
    buckets: LATENCY_BUCKETS,
    registers,
  })
  const attemptDuration = new Histogram({
    name: 'outbox_attempt_duration_seconds',
    help: 'How long one delivery attempt (one SMTP transaction) took, by upstream.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    labelNames: ['upstream'],
    registers,
  })
  // The routing overview (every worker's reports, the shared buckets), read from the store once
  // per scrape and shared by the gauges below.
  let routingOfScrape: ReturnType<Outbox['admin']['upstreams']> | null = null
  new Gauge({
    name: 'outbox_upstream_up',
    help: '0 while the upstream is down (being probed) in this process or in any worker reporting to the store, else 1.',
    labelNames: ['upstream'],
    registers,
    async collect() {
      // This process's breakers alone are not enough: a process without a worker (the
      // dashboard) never trips one, while the workers that do report theirs to the store.
      const overview = await (routingOfScrape ??= outbox.admin.upstreams())
      const downElsewhere = new Set(
        overview.upstreams.filter((u) => u.state === 'down').map((u) => u.name),
      )
      for (const u of outbox.upstreamHealth().upstreams)
        this.set({ upstream: u.name }, u.down || downElsewhere.has(u.name) ? 0 : 1)
    },
  })
  new Gauge({
    name: 'outbox_upstream_connections',
    help: 'Sends under way through each upstream in this process.',
    labelNames: ['upstream'],
    registers,
    collect() {
      for (const u of outbox.upstreamHealth().upstreams)
        this.set({ upstream: u.name }, u.connections)
    },
  })
  new Gauge({
    name: 'outbox_rate_limit_per_second',
    help: 'Current rate of each shared rate limit (all workers), lowered by throttling replies; by upstream or domain.',
    labelNames: ['upstream', 'domain'],
    registers,
    async collect() {
      const overview = await (routingOfScrape ??= outbox.admin.upstreams())
      for (const u of overview.upstreams) {
        if (u.currentRatePerSec !== null)
          this.set({ upstream: u.name, domain: '' }, u.currentRatePerSec)
      }
      for (const d of overview.domains)
        this.set({ upstream: '', domain: d.domain }, d.currentRatePerSec)
    },
  })

  // Read from the store once per scrape, shared by the two gauges below.
  let statsOfScrape: ReturnType<Outbox['admin']['stats']> | null = null
  new Gauge({
    name: 'outbox_queue_messages',
    help: 'Messages in the store, by status (all workers).',
    labelNames: ['status'],
    registers,
    async collect() {
      const stats = await (statsOfScrape ??= outbox.admin.stats())
      for (const status of MESSAGE_STATUSES) this.set({ status }, stats.counts[status])
    },
  })
  new Gauge({
    name: 'outbox_oldest_waiting_seconds',
    help: 'Age of the oldest message still waiting (queued, deferred or sending); 0 if none.',
    registers,
    async collect() {
      const stats = await (statsOfScrape ??= outbox.admin.stats())
      const at = stats.oldestWaitingAt
      this.set(at ? Math.max(0, (Date.now() - at.getTime()) / 1000) : 0)
    },
  })

  function onEvent(event: OutboxEvent): void {
    if (event.type === 'enqueued') {
      enqueued.inc({ priority: event.priority })
      return
    }
    // Bounded: the configured names (and `a+b` for a message split over two of them).
    const upstream = event.attempt.upstream ?? 'none'
    attemptDuration.observe({ upstream }, event.attempt.durationMs / 1000)
    const code = upstreamErrorCode(event.attempt)
    if (code) upstreamErrors.inc({ code, upstream })
    if (event.status === 'sent') {
      sent.inc({ captured: String(event.attempt.outcome === 'captured'), upstream })
      latency.observe(event.queuedMs / 1000)
    } else if (event.status === 'failed') {
      failed.inc({ reason: reasonLabel(event.reason), upstream })
    } else {
      deferred.inc({ reason: reasonLabel(event.reason), upstream })
    }
  }
  const unsubscribe = outbox.observe(onEvent)

  return {
    registry,
    async render() {
      try {
        return await registry.metrics()
      } finally {
        statsOfScrape = null
        routingOfScrape = null
      }
    },
    close: unsubscribe,
  }
}
