import { normaliseAddress, type RoutingSettings } from '../config/routing-settings.js'
import { routeMessage, type RouteGroup } from '../delivery/routes.js'
import { perSecond, type UpstreamRuntime, type UpstreamSet } from '../delivery/upstream-set.js'
import type { ClaimedMessage, RateBucketRef, Store, TokenRequest } from '../store/store.js'

/**
 * Admission: before a message is sent, where each of its recipients goes (routes, then the
 * first upstream of the route that is up) and whether the shared rate limits let it go now.
 * One store round trip for the tokens of all of a message's parts, and none at all when no
 * limit applies.
 */

/** Longest a send waits in this process for a reserved turn; a later turn goes back to the queue. */
export const MAX_PACING_MS = 1000

/** Recipients sent together, through one upstream. */
export interface SendGroup {
  recipients: string[]
  /** The route's upstreams in order; `runtime` is the one chosen. */
  chain: string[]
  runtime: UpstreamRuntime
  /** The rate-limited recipient domain of these recipients, or null. */
  domain: string | null
  /** The buckets a token was taken from, with their current rates: throttling halves them. */
  buckets: { ref: RateBucketRef; rate: number }[]
}

/** Recipients not tried this time. */
export interface HeldGroup {
  recipients: string[]
  /** Try them again this much later. */
  dueInMs: number
  /**
   * `rate-limited` (their turn is later), `upstream-down` or `upstream-misconfigured` (every
   * upstream of their route is), `unknown-upstream` (named by the message, not configured here).
   */
  reason: 'rate-limited' | 'upstream-down' | 'upstream-misconfigured' | 'unknown-upstream'
  /** Woken early when an upstream comes back. */
  waitingForUpstream: boolean
  error: string
}

export interface Admission {
  send: SendGroup[]
  held: HeldGroup[]
  /** Wait this long before sending (the latest reserved turn among `send`). */
  waitMs: number
}

/** What admission needs. */
export interface AdmissionDeps {
  store: Store
  upstreams: UpstreamSet
  routing: RoutingSettings
  /** How long a message whose upstreams are all down waits if no probe wakes it first. */
  upstreamParkMs: number
}

/** The first upstream of `chain` this process has that is up; null if none is. */
export function firstUp(
  chain: readonly string[],
  upstreams: UpstreamSet,
  after?: string,
): UpstreamRuntime | null {
  const start = after === undefined ? 0 : chain.indexOf(after) + 1
  for (const name of chain.slice(start)) {
    const runtime = upstreams.get(name)
    if (runtime && !runtime.health.isDown) return runtime
  }
  return null
}

/** Recipients whose route's upstreams are all down: parked until a probe finds one back. */
export function outageHold(
  chain: readonly string[],
  recipients: string[],
  deps: Pick<AdmissionDeps, 'upstreams' | 'upstreamParkMs'>,
  reason?: { error: string; misconfigured: boolean },
): HeldGroup {
  const primary = deps.upstreams.get(chain[0]!)
  const misconfigured = reason?.misconfigured ?? primary?.health.misconfigured ?? false
  return {
    recipients,
    dueInMs: deps.upstreamParkMs,
    reason: misconfigured ? 'upstream-misconfigured' : 'upstream-down',
    waitingForUpstream: true,
    error: reason?.error ?? primary?.health.lastError ?? `upstream ${chain.join(', ')} unreachable`,
  }
}

/** The token buckets a send through `runtime` to `domain` needs. */
export function bucketsFor(
  runtime: UpstreamRuntime,
  domain: string | null,
  routing: RoutingSettings,
): RateBucketRef[] {
  const refs: RateBucketRef[] = []
  const upstreamRate = runtime.limitPerSecond()
  if (upstreamRate !== null)
    refs.push({ key: `upstream:${runtime.name}`, ratePerSec: upstreamRate })
  const limit = domain === null ? undefined : routing.domainLimits.get(domain)
  if (limit) refs.push({ key: `domain:${domain}`, ratePerSec: perSecond(limit) })
  return refs
}

/** Splits recipients by rate-limited domain; the rest stay together (domain null). */
function byLimitedDomain(
  recipients: readonly string[],
  routing: RoutingSettings,
): { domain: string | null; recipients: string[] }[] {
  if (routing.domainLimits.size === 0) return [{ domain: null, recipients: [...recipients] }]
  const groups = new Map<string | null, string[]>()
  for (const r of recipients) {
    const domain = normaliseAddress(r)?.domain ?? null
    const key = domain !== null && routing.domainLimits.has(domain) ? domain : null
    const list = groups.get(key)
    if (list) list.push(r)
    else groups.set(key, [r])
  }
  return [...groups].map(([domain, list]) => ({ domain, recipients: list }))
}

/** Where a claimed message's pending recipients go: its routes (routes.ts). */
export function routesOf(message: ClaimedMessage, routing: RoutingSettings): RouteGroup[] {
  return routeMessage(
    {
      from: message.from,
      recipients: message.pendingRecipients,
      tags: message.tags,
      upstream: message.upstream,
    },
    routing.routes,
  )
}

/**
 * Decides how a claimed message goes out now. Rejects only if the store does (taking tokens);
 * the caller gives the message back then.
 */
export async function admit(message: ClaimedMessage, deps: AdmissionDeps): Promise<Admission> {
  const send: SendGroup[] = []
  const held: HeldGroup[] = []
  const asking: { group: SendGroup; request: TokenRequest }[] = []
  for (const route of routesOf(message, deps.routing)) {
    const runtime = firstUp(route.upstreams, deps.upstreams)
    if (!runtime) {
      const missing = route.upstreams.find((name) => !deps.upstreams.get(name))
      held.push(
        missing !== undefined && route.upstreams.every((name) => !deps.upstreams.get(name))
          ? {
              recipients: route.recipients,
              dueInMs: deps.upstreamParkMs,
              reason: 'unknown-upstream',
              waitingForUpstream: false,
              error: `no upstream named "${missing}" is configured in this worker (known: ${deps.upstreams.names.join(', ')}); add it to \`upstreams\``,
            }
          : outageHold(route.upstreams, route.recipients, deps),
      )
      continue
    }
    for (const part of byLimitedDomain(route.recipients, deps.routing)) {
      const refs = bucketsFor(runtime, part.domain, deps.routing)
      const group: SendGroup = {
        recipients: part.recipients,
        chain: route.upstreams,
        runtime,
        domain: part.domain,
        buckets: refs.map((ref) => ({ ref, rate: ref.ratePerSec })),
      }
      if (refs.length === 0) send.push(group)
      else asking.push({ group, request: { buckets: refs, maxWaitMs: MAX_PACING_MS } })
    }
  }
  let waitMs = 0
  if (asking.length > 0) {
    const grants = await deps.store.takeTokens(asking.map((a) => a.request))
    asking.forEach(({ group }, i) => {
      const grant = grants[i]!
      group.buckets.forEach((b, j) => (b.rate = grant.rates[j] ?? b.rate))
      if (grant.granted) {
        send.push(group)
        waitMs = Math.max(waitMs, grant.waitMs)
      } else {
        held.push({
          recipients: group.recipients,
          dueInMs: Math.max(1, grant.waitMs),
          reason: 'rate-limited',
          waitingForUpstream: false,
          error: `rate limit: ${group.buckets.map((b) => b.ref.key).join(', ')} is at its rate; sent at its turn`,
        })
      }
    })
  }
  return { send, held, waitMs }
}
