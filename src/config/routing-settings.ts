import { domainToASCII } from 'node:url'
import { redactUrl } from '../delivery/upstream.js'
import { parseRateLimit, type RateLimit } from './rate-limit.js'

/**
 * Named upstreams, routes and per-domain limits: their one validation, for the config file (and
 * environment) and for `createOutbox()` alike. It reports every problem, one line each, naming
 * the setting by its path (`routes[2].upstream`), so a broken config is fixed in one go.
 */

/** The name of the upstream the `upstream` setting configures. */
export const DEFAULT_UPSTREAM = 'default'

/** One named upstream after validation. `spec` is a URL, or (library only) options or a transport. */
export interface UpstreamSetting<Spec = unknown> {
  spec: Spec
  /** Most SMTP connections (sends at once) to it from one process; null: the concurrency. */
  maxConnections: number | null
  /** Most messages per period through it, shared by every worker on the store; null: none. */
  rateLimit: RateLimit | null
}

/** What a route matches; each list is "any of", the lists together "all of". Normalised. */
export interface RouteMatch {
  /** Sender addresses (`a@b.example`) and domains (`b.example`, written `@b.example`). */
  from: AddressPatterns
  /** Recipient addresses and domains: the route applies to the recipients it matches. */
  to: AddressPatterns
  /** Tags, of which the message must have one. */
  tags: string[]
}

/** Addresses and domains, lower-case, domains in their ASCII (punycode) form. */
export interface AddressPatterns {
  addresses: string[]
  domains: string[]
  /** No pattern given: matches any. */
  any: boolean
}

/** A route after validation. */
export interface RouteSetting {
  match: RouteMatch
  upstream: string
  /** Tried in order when the upstream (and the earlier fallbacks) are down. */
  fallback: string[]
}

/** The routing of one Outbox: which upstreams exist, which mail goes where, how fast. */
export interface RoutingSettings<Spec = unknown> {
  upstreams: ReadonlyMap<string, UpstreamSetting<Spec>>
  routes: readonly RouteSetting[]
  /** Per recipient domain (ASCII, lower-case): most messages per period, shared by every worker. */
  domainLimits: ReadonlyMap<string, RateLimit>
}

/** The raw values as written (config file, environment JSON, or library options). */
export interface RoutingInput {
  upstreams?: unknown
  routes?: unknown
  domainLimits?: unknown
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

const show = (v: unknown): string => JSON.stringify(v) ?? String(v)

/** As {@link show}, with a password in a URL replaced by `***` (a URL written where a name goes). */
const showRedacted = (v: unknown): string => show(typeof v === 'string' ? redactUrl(v) : v)

/** A domain name in ASCII: labels of letters, digits, `_` (as in `_dmarc`) and `-` inside. */
const ASCII_DOMAIN = /^(?:[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$/

/** A domain as compared: lower-case ASCII (an internationalised one in punycode); '' if invalid. */
export function normaliseDomain(domain: string): string {
  const lower = domain.trim().replace(/\.$/, '').toLowerCase()
  if (lower === '' || /[\s@]/.test(lower)) return ''
  // domainToASCII lets through what a host may hold but a mail domain may not (`*.example`,
  // `a..example`): such a pattern would silently match nothing.
  const ascii = domainToASCII(lower)
  return ASCII_DOMAIN.test(ascii) ? ascii : ''
}

/** `user@Example.COM` → `user@example.com` (the local part is kept as written, lower-cased). */
export function normaliseAddress(address: string): { local: string; domain: string } | null {
  const at = address.lastIndexOf('@')
  if (at <= 0) return null
  const domain = normaliseDomain(address.slice(at + 1))
  if (!domain) return null
  return { local: address.slice(0, at).trim().toLowerCase(), domain }
}

function addressPatterns(
  raw: unknown,
  path: string,
  problems: string[],
): AddressPatterns | undefined {
  if (raw === undefined) return { addresses: [], domains: [], any: true }
  const list = typeof raw === 'string' ? [raw] : raw
  if (!Array.isArray(list) || list.length === 0 || !list.every((v) => typeof v === 'string')) {
    problems.push(
      `${path} = ${show(raw)}: expected an address ("a@b.example"), a domain ("@b.example"), or a non-empty list of them`,
    )
    return undefined
  }
  const patterns: AddressPatterns = { addresses: [], domains: [], any: false }
  for (const pattern of list) {
    const text = pattern.trim()
    if (text.startsWith('@')) {
      const domain = normaliseDomain(text.slice(1))
      if (domain) {
        patterns.domains.push(domain)
        continue
      }
    } else if (text.includes('@')) {
      const address = normaliseAddress(text)
      if (address) {
        patterns.addresses.push(`${address.local}@${address.domain}`)
        continue
      }
    } else if (normaliseDomain(text)) {
      problems.push(
        `${path} = ${show(pattern)} matches nothing: a domain is written with its @ ("@${text}"), an address in full`,
      )
      return undefined
    }
    problems.push(`${path} = ${show(pattern)}: not an address or @domain, so it matches nothing`)
    return undefined
  }
  return patterns
}

function tagPatterns(raw: unknown, path: string, problems: string[]): string[] | undefined {
  if (raw === undefined) return []
  const list = typeof raw === 'string' ? [raw] : raw
  if (
    !Array.isArray(list) ||
    list.length === 0 ||
    !list.every((v) => typeof v === 'string' && /^[^\s,\x00-\x1f\x7f]{1,64}$/.test(v))
  ) {
    problems.push(
      `${path} = ${show(raw)}: expected a tag (no spaces or commas, at most 64 characters) or a non-empty list of them`,
    )
    return undefined
  }
  return [...new Set(list as string[])]
}

/**
 * A rate as written (`14/s`, `{ count, perMs }`, null or `none` for none); undefined, with the
 * problem pushed, when it is not one.
 */
export function parseRateOption(
  raw: unknown,
  path: string,
  problems: string[],
): RateLimit | null | undefined {
  if (raw === undefined || raw === null || raw === 'none') return null
  if (isObject(raw) && Number.isInteger(raw.count) && Number.isInteger(raw.perMs)) {
    const limit = { count: Number(raw.count), perMs: Number(raw.perMs) }
    if (limit.count >= 1 && limit.perMs >= 1) return limit
  }
  const limit = typeof raw === 'string' ? parseRateLimit(raw) : undefined
  if (limit) return limit
  problems.push(`${path} = ${show(raw)}: expected a rate such as 14/s, 100/m or 20000/h`)
  return undefined
}

const isUpstreamSpec = (v: unknown): boolean =>
  (typeof v === 'string' && v.trim() !== '') || isObject(v)

/** A URL the config file may name: what the `upstream` setting accepts. */
const isUpstreamUrl = (v: unknown): boolean =>
  typeof v === 'string' && (v === 'capture' || /^smtps?:\/\/[^/\s]+/.test(v))

/**
 * Validates the routing settings. `defaultSpec` is the `upstream` setting (the upstream named
 * `default`); `fromFile` restricts upstreams to URLs (no transports in JSON). Returns the
 * settings, or the problems (one line each) when there are any.
 */
export function resolveRoutingSettings<Spec>(
  input: RoutingInput,
  defaultSpec: Spec,
  options: { fromFile: boolean; defaultRateLimit: RateLimit | null },
): { settings: RoutingSettings<Spec>; problems: string[] } {
  const problems: string[] = []
  const upstreams = new Map<string, UpstreamSetting<Spec>>([
    [
      DEFAULT_UPSTREAM,
      { spec: defaultSpec, maxConnections: null, rateLimit: options.defaultRateLimit },
    ],
  ])

  /** Every name given an upstream, valid or not: a route naming an invalid one is not unknown. */
  const declared = new Set<string>([DEFAULT_UPSTREAM])
  /** Names in lower case, to refuse two that differ only in case. */
  const lowerNames = new Map<string, string>()
  if (input.upstreams !== undefined && input.upstreams !== null) {
    if (!isObject(input.upstreams)) {
      problems.push(
        `upstreams = ${show(input.upstreams)}: expected an object of named upstreams, such as { "ses": { "url": "smtp://…", "rateLimit": "14/s" } }`,
      )
    } else {
      for (const [name, raw] of Object.entries(input.upstreams)) {
        const path = `upstreams.${name}`
        if (!NAME.test(name)) {
          problems.push(
            `${path}: an upstream name is letters, digits, ".", "_" or "-" (at most 64), starting with a letter or digit`,
          )
          continue
        }
        if (name.toLowerCase() === DEFAULT_UPSTREAM) {
          problems.push(
            `${path}: "default" is the upstream of the \`upstream\` setting; set that, or give this one another name`,
          )
          continue
        }
        const sameName = lowerNames.get(name.toLowerCase())
        if (sameName !== undefined) {
          problems.push(
            `${path}: differs from upstreams.${sameName} only in case; give each upstream a name of its own`,
          )
          continue
        }
        lowerNames.set(name.toLowerCase(), name)
        declared.add(name)
        // A bare URL (or, in code, options or a transport) is an upstream with no limits.
        const entry = isObject(raw) && 'url' in raw ? raw : { url: raw }
        const known = new Set(['url', 'maxConnections', 'rateLimit'])
        for (const key of Object.keys(entry)) {
          if (!known.has(key))
            problems.push(`${path}.${key}: unknown key (known: url, maxConnections, rateLimit)`)
        }
        const urlOk = options.fromFile ? isUpstreamUrl(entry.url) : isUpstreamSpec(entry.url)
        if (!urlOk) {
          problems.push(
            `${path}.url = ${showRedacted(entry.url)}: expected capture, or an smtp:// or smtps:// URL`,
          )
        }
        let maxConnections: number | null = null
        if (entry.maxConnections !== undefined) {
          const raw = entry.maxConnections
          const n =
            typeof raw === 'number' || (typeof raw === 'string' && /^\s*\d+\s*$/.test(raw))
              ? Number(raw)
              : NaN
          if (!Number.isInteger(n) || n < 1 || n > 1000) {
            problems.push(
              `${path}.maxConnections = ${show(entry.maxConnections)}: expected a whole number from 1 to 1000`,
            )
          } else maxConnections = n
        }
        const limit = parseRateOption(entry.rateLimit, `${path}.rateLimit`, problems)
        if (urlOk && limit !== undefined) {
          upstreams.set(name, { spec: entry.url as Spec, maxConnections, rateLimit: limit })
        }
      }
    }
  }

  const routes: RouteSetting[] = []
  if (input.routes !== undefined && input.routes !== null) {
    if (!Array.isArray(input.routes)) {
      problems.push(
        `routes = ${show(input.routes)}: expected a list of routes, such as [{ "match": { "to": "@gmail.com" }, "upstream": "ses" }]`,
      )
    } else {
      /** The index of an earlier route that matches all mail: every later one is unreachable. */
      let catchAll: number | null = null
      const seen = new Map<string, number>()
      input.routes.forEach((raw: unknown, i) => {
        const path = `routes[${i}]`
        if (!isObject(raw)) {
          problems.push(`${path} = ${show(raw)}: expected { match, upstream, fallback }`)
          return
        }
        for (const key of Object.keys(raw)) {
          if (!['match', 'upstream', 'fallback'].includes(key))
            problems.push(`${path}.${key}: unknown key (known: match, upstream, fallback)`)
        }
        const match = raw.match ?? {}
        let from: AddressPatterns | undefined
        let to: AddressPatterns | undefined
        let tags: string[] | undefined
        if (!isObject(match)) {
          // Reported, and the rest of the route checked all the same.
          problems.push(`${path}.match = ${show(match)}: expected { from, to, tag }`)
        } else {
          for (const key of Object.keys(match)) {
            if (!['from', 'to', 'tag'].includes(key))
              problems.push(`${path}.match.${key}: unknown key (known: from, to, tag)`)
          }
          from = addressPatterns(match.from, `${path}.match.from`, problems)
          to = addressPatterns(match.to, `${path}.match.to`, problems)
          tags = tagPatterns(match.tag, `${path}.match.tag`, problems)
        }
        const target = raw.upstream
        const names = [...upstreams.keys()]
        // A name given to an upstream with problems of its own is not reported again here.
        const unknown = (name: unknown): boolean => typeof name !== 'string' || !declared.has(name)
        if (unknown(target)) {
          problems.push(
            `${path}.upstream = ${showRedacted(target)}: no such upstream (known: ${names.join(', ')})`,
          )
        }
        const fallbackRaw = raw.fallback === undefined ? [] : raw.fallback
        const fallback = typeof fallbackRaw === 'string' ? [fallbackRaw] : fallbackRaw
        if (!Array.isArray(fallback)) {
          problems.push(
            `${path}.fallback = ${show(raw.fallback)}: expected a list of upstream names`,
          )
        } else {
          fallback.forEach((name: unknown, j) => {
            if (unknown(name)) {
              problems.push(
                `${path}.fallback[${j}] = ${showRedacted(name)}: no such upstream (known: ${names.join(', ')})`,
              )
            } else if (name === target || fallback.indexOf(name) !== j) {
              problems.push(
                `${path}.fallback[${j}] = ${show(name)}: already tried earlier in this route; list each upstream once`,
              )
            }
          })
        }
        if (!from || !to || !tags) return
        const sorted = (p: AddressPatterns) => [[...p.addresses].sort(), [...p.domains].sort()]
        const key = JSON.stringify([sorted(from), sorted(to), [...tags].sort()])
        const same = seen.get(key)
        if (catchAll !== null) {
          problems.push(
            `${path} matches nothing ever: routes[${catchAll}] has no match, so it takes all mail first; put it last`,
          )
        } else if (same !== undefined) {
          problems.push(
            `${path} matches nothing ever: routes[${same}] matches the same mail first; remove one`,
          )
        }
        if (same === undefined) seen.set(key, i)
        if (from.any && to.any && tags.length === 0) catchAll ??= i
        const chain = [target, ...(Array.isArray(fallback) ? (fallback as unknown[]) : [null])]
        const valid = chain.every((name) => typeof name === 'string' && upstreams.has(name))
        if (valid && new Set(chain).size === chain.length) {
          routes.push({
            match: { from, to, tags },
            upstream: target as string,
            fallback: chain.slice(1) as string[],
          })
        }
      })
    }
  }

  const domainLimits = new Map<string, RateLimit>()
  if (input.domainLimits !== undefined && input.domainLimits !== null) {
    if (!isObject(input.domainLimits)) {
      problems.push(
        `domainLimits = ${show(input.domainLimits)}: expected an object of domain → rate, such as { "gmail.com": "100/m" }`,
      )
    } else {
      for (const [domainText, raw] of Object.entries(input.domainLimits)) {
        const path = `domainLimits.${domainText}`
        const domain = normaliseDomain(domainText.replace(/^@/, ''))
        if (!domain) {
          problems.push(`${path}: not a domain name`)
          continue
        }
        const limit = parseRateOption(raw, path, problems)
        if (limit === undefined) continue
        if (limit === null) {
          problems.push(
            `${path} = ${show(raw)}: expected a rate such as 100/m (leave the domain out for no limit)`,
          )
          continue
        }
        if (domainLimits.has(domain)) {
          problems.push(`${path}: ${domain} is listed twice (domains are compared in lower case)`)
        }
        domainLimits.set(domain, limit)
      }
    }
  }

  return { settings: { upstreams, routes, domainLimits }, problems }
}
