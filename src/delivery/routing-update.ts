import { isDeepStrictEqual } from 'node:util'
import type { NamedUpstreamOptions, RouteOptions } from '../config/outbox-options.js'
import { formatRateLimit, type RateLimit } from '../config/rate-limit.js'
import {
  DEFAULT_UPSTREAM,
  parseRateOption,
  resolveRoutingSettings,
  type RoutingSettings,
  type UpstreamSetting,
} from '../config/routing-settings.js'
import { ConfigError } from '../errors.js'
import type { LiveRouting } from './live-routing.js'
import type { UpstreamSpec } from './upstream.js'
import type { UpstreamSet } from './upstream-set.js'

/**
 * What {@link Outbox.reconfigure} takes: the routing options of `createOutbox()`, written the
 * same way. An option left out keeps its running value; one given replaces it whole.
 */
export interface RoutingUpdate {
  /** The default upstream's rate limit (`10/s`), or null for none. */
  rateLimit?: string | RateLimit | null
  /**
   * The named upstreams. Only their rate limits change while running: an upstream added or
   * removed, or a changed `url` or `maxConnections`, is listed in `needsRestart` and the
   * running one kept as it is.
   */
  upstreams?: Record<string, UpstreamSpec | NamedUpstreamOptions>
  /** The routes; each upstream they name must be running already. */
  routes?: RouteOptions[]
  /** Per recipient domain limits. */
  domainLimits?: Record<string, string | RateLimit>
}

/** What {@link Outbox.reconfigure} did. */
export interface ReconfigureResult {
  /** What changed, one item each: `rateLimit none→10/s`, `routes`, `domainLimits.gmail.com 100/m→50/m`. */
  changed: string[]
  /** What differs but cannot change while running (`upstreams.ses.url`, `upstreams.new (added)`). */
  needsRestart: string[]
}

const KEYS = new Set(['rateLimit', 'upstreams', 'routes', 'domainLimits'])

const showRate = (limit: RateLimit | null | undefined): string =>
  limit ? formatRateLimit(limit) : 'none'

/** The running named upstreams written as options, for when the update leaves them out. */
function runningAsOptions(
  upstreams: RoutingSettings<UpstreamSpec>['upstreams'],
): Record<string, unknown> {
  const named = [...upstreams].filter(([name]) => name !== DEFAULT_UPSTREAM)
  return Object.fromEntries(
    named.map(([name, s]) => [
      name,
      {
        url: s.spec,
        rateLimit: s.rateLimit,
        ...(s.maxConnections === null ? {} : { maxConnections: s.maxConnections }),
      },
    ]),
  )
}

/**
 * Validates an update as `createOutbox()` validates the same options, then applies it to the
 * running routing in one synchronous step (see live-routing.ts): the rate limits of the running
 * upstreams (each keeps its bucket key `upstream:<name>`, so the state shared in the store goes
 * on), the routes and the domain limits. The set of upstreams is not changed: each has its own
 * connections, breaker and health report, which cannot be made or dropped safely under
 * messages in flight. Throws {@link ConfigError} with every problem, having changed nothing.
 */
export function applyRoutingUpdate(
  update: RoutingUpdate,
  target: { live: LiveRouting<UpstreamSpec>; upstreams: UpstreamSet },
): ReconfigureResult {
  if (typeof update !== 'object' || update === null || Array.isArray(update)) {
    throw new ConfigError('reconfigure', '`reconfigure()` takes an object of routing options.')
  }
  const problems: string[] = []
  for (const key of Object.keys(update)) {
    if (!KEYS.has(key)) problems.push(`${key}: unknown option (known: ${[...KEYS].join(', ')})`)
  }
  const current = target.live.current()
  const running = current.upstreams
  const defaultNow = running.get(DEFAULT_UPSTREAM)!
  const defaultRate =
    update.rateLimit === undefined
      ? defaultNow.rateLimit
      : parseRateOption(update.rateLimit, 'rateLimit', problems)
  const resolved = resolveRoutingSettings<UpstreamSpec>(
    {
      upstreams: update.upstreams ?? runningAsOptions(running),
      routes: update.routes,
      domainLimits: update.domainLimits,
    },
    defaultNow.spec,
    { fromFile: false, defaultRateLimit: defaultRate ?? null },
  )
  problems.push(...resolved.problems)
  const next = resolved.settings
  if (update.routes !== undefined && problems.length === 0) {
    // Valid routes map one to one onto the input's, so the index names the route as written.
    next.routes.forEach((route, i) => {
      ;[route.upstream, ...route.fallback].forEach((name, j) => {
        if (target.upstreams.get(name)) return
        const path = j === 0 ? `routes[${i}].upstream` : `routes[${i}].fallback[${j - 1}]`
        problems.push(
          `${path} = ${JSON.stringify(name)}: no upstream of that name is running (running: ${target.upstreams.names.join(', ')}); adding an upstream needs a restart`,
        )
      })
    })
  }
  if (problems.length > 0) {
    throw new ConfigError(
      /^[^\s=:[]+/.exec(problems[0]!)?.[0] ?? 'routes',
      `Routing options have ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems.map((p) => `  ${p}`).join('\n')}`,
      { problems },
    )
  }

  const changed: string[] = []
  const needsRestart: string[] = []
  const upstreams = new Map<string, UpstreamSetting<UpstreamSpec>>()
  for (const [name, now] of running) {
    const given = name === DEFAULT_UPSTREAM || update.upstreams !== undefined
    const wanted = given ? next.upstreams.get(name) : now
    if (!wanted) needsRestart.push(`upstreams.${name} (removed)`)
    else if (name !== DEFAULT_UPSTREAM) {
      if (!isDeepStrictEqual(wanted.spec, now.spec)) needsRestart.push(`upstreams.${name}.url`)
      if (wanted.maxConnections !== now.maxConnections)
        needsRestart.push(`upstreams.${name}.maxConnections`)
    }
    // A removed upstream keeps running, with its limit, until the restart.
    const rateLimit = wanted ? wanted.rateLimit : now.rateLimit
    if (!isDeepStrictEqual(rateLimit, now.rateLimit)) {
      const key = name === DEFAULT_UPSTREAM ? 'rateLimit' : `upstreams.${name}.rateLimit`
      changed.push(`${key} ${showRate(now.rateLimit)}→${showRate(rateLimit)}`)
    }
    upstreams.set(name, { ...now, rateLimit })
  }
  for (const name of next.upstreams.keys()) {
    if (!running.has(name)) needsRestart.push(`upstreams.${name} (added)`)
  }
  const routes = update.routes === undefined ? current.routes : next.routes
  if (!isDeepStrictEqual(routes, current.routes)) changed.push('routes')
  const domainLimits = update.domainLimits === undefined ? current.domainLimits : next.domainLimits
  for (const domain of new Set([...current.domainLimits.keys(), ...domainLimits.keys()])) {
    const before = current.domainLimits.get(domain)
    const after = domainLimits.get(domain)
    if (!isDeepStrictEqual(before, after))
      changed.push(`domainLimits.${domain} ${showRate(before)}→${showRate(after)}`)
  }

  // Nothing below can fail: the new settings take effect together, for the next admission.
  for (const runtime of target.upstreams.all()) {
    runtime.setRateLimit(upstreams.get(runtime.name)?.rateLimit ?? null)
  }
  target.live.replace({ upstreams, routes, domainLimits })
  return { changed, needsRestart }
}
