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
  const groups = new Map<RouteSetting | null, string[]>()
  for (const recipient of message.recipients) {
    const route = candidates.find((r) => matches(r.match.to, recipient)) ?? null
    const list = groups.get(route)
    if (list) list.push(recipient)
    else groups.set(route, [recipient])
  }
  return [...groups].map(([route, recipients]) => ({
    upstreams: route ? [route.upstream, ...route.fallback] : [DEFAULT_UPSTREAM],
    recipients,
  }))
}
