import { CONFIG_KEYS } from '../config/config-schema.js'

/**
 * The `webhooks` setting holds signing secrets and request headers (an `authorization`), and
 * the config merge only hides passwords in URLs. What the CLI prints of it goes through here.
 */

const KEY = CONFIG_KEYS.webhooks

/**
 * A configuration problem line with the webhooks value written as `"***"`: a value that fails
 * to parse (a JSON typo) is quoted whole, secrets included, and such lines end up in CI logs.
 */
export function hideWebhookValue(problem: string): string {
  const suffix = `: expected ${KEY.expected}`
  const name = [KEY.env, KEY.flag, KEY.file].find((n) => problem.startsWith(`${n} = `))
  if (name === undefined || !problem.endsWith(suffix)) return problem
  const from = problem.lastIndexOf(' from ', problem.length - suffix.length)
  return `${name} = "***"${problem.slice(from)}`
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** Shows a URL without what may be a token: its user and password, and its query. */
function shownUrl(url: unknown): unknown {
  if (typeof url !== 'string') return url
  try {
    const u = new URL(url)
    if (u.username || u.password) u.username = u.password = '***'
    if (u.search) u.search = '?***'
    return u.href
  } catch {
    return url
  }
}

/** The webhooks as `outbox config` prints them: secrets and header values as `***`. */
export function redactWebhooks(webhooks: unknown[] | null): unknown[] | null {
  if (webhooks === null) return null
  return webhooks.map((entry) => {
    if (!isObject(entry)) return entry
    const shown: Record<string, unknown> = { ...entry, url: shownUrl(entry.url) }
    if ('secret' in entry) shown.secret = '***'
    if (isObject(entry.headers)) {
      shown.headers = Object.fromEntries(Object.keys(entry.headers).map((h) => [h, '***']))
    }
    if (!('url' in entry)) delete shown.url
    return shown
  })
}
