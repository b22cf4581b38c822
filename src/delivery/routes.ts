import {
  DEFAULT_UPSTREAM,
  normaliseAddress,
  type AddressPatterns,
  type RouteSetting,
} from '../config/routing-settings.js'

/** Recipients of one message that go the same way: the upstreams to try, in order. */
export interface RouteGroup {
  /** The route's upstream, then its fallbacks. */
  upstreams: string[]
  recipients: string[]
}

/** What routing looks at. */
export interface RoutableMessage {
  from: string
  recipients: readonly string[]
  tags: readonly string[]
  /** Named in the message's send options: it overrides the routes, with no fallback. */
  upstream: string | null
}

function matches(patterns: AddressPatterns, address: string): boolean {
  if (patterns.any) return true
  const normal = normaliseAddress(address)
  if (!normal) return false
  return (
    patterns.domains.includes(normal.domain) ||
    patterns.addresses.includes(`${normal.local}@${normal.domain}`)
  )
}

/**
 * Decides where each recipient goes: the first route whose sender, tag and recipient patterns
 * all match, else the default upstream. Recipients that go the same way stay together (one
 * SMTP transaction); a message whose recipients match different routes is split. Pure.
 */
export function routeMessage(
  message: RoutableMessage,
  routes: readonly RouteSetting[],
): RouteGroup[] {
  if (message.upstream !== null) {
    return [{ upstreams: [message.upstream], recipients: [...message.recipients] }]
  }
  const candidates = routes.filter(
    (r) =>
      matches(r.match.from, message.from) &&
      (r.match.tags.length === 0 || r.match.tags.some((t) => message.tags.includes(t))),
  )
  // Keyed by the upstreams tried, not by the route: two routes to the same upstreams (or a
  // route to `default` and no route at all) go the same way, in one transaction.
  const groups = new Map<string, RouteGroup>()
  for (const recipient of message.recipients) {
    const route = candidates.find((r) => matches(r.match.to, recipient))
    const upstreams = route ? [route.upstream, ...route.fallback] : [DEFAULT_UPSTREAM]
    const key = upstreams.join('\n')
    const group = groups.get(key)
    if (group) group.recipients.push(recipient)
    else groups.set(key, { upstreams, recipients: [recipient] })
  }
  return [...groups.values()]
}
