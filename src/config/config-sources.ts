import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { redactUrl } from '../delivery/upstream.js'
import { CONFIG_DEFAULTS, CONFIG_KEYS, type OutboxConfig } from './config-schema.js'
import { formatDuration } from './duration.js'
import { resolveRoutingSettings } from './routing-settings.js'

type Key = keyof OutboxConfig
const KEYS = Object.keys(CONFIG_KEYS) as Key[]

/** The raw inputs, before validation. */
export interface ConfigInputs {
  /** The parsed config file and where it came from. */
  file?: { path: string; values: unknown }
  /** The process environment (only `OUTBOX_*` variables are read). */
  env?: Record<string, string | undefined>
  /** Command-line flags, by configuration key. */
  flags?: Partial<Record<Key, string>>
}

/** The merged configuration, where each value came from, and everything wrong with it. */
export interface MergedConfig {
  config: OutboxConfig
  sources: Record<Key, string>
  /** One line per problem; empty when the configuration is valid. */
  problems: string[]
}

function readPath(values: unknown, dotted: string): unknown {
  let current = values
  for (const part of dotted.split('.')) {
    if (!current || typeof current !== 'object' || !(part in current)) return undefined
    current = (current as Record<string, unknown>)[part]
  }
  return current
}

/** Dotted paths of every leaf in the file, to find keys Outbox does not know. */
function leafPaths(values: unknown, prefix = ''): string[] {
  if (!values || typeof values !== 'object' || Array.isArray(values)) return prefix ? [prefix] : []
  return Object.entries(values).flatMap(([k, v]) => {
    const path = prefix ? `${prefix}.${k}` : k
    const isKnownLeaf = KEYS.some((key) => CONFIG_KEYS[key].file === path)
    return isKnownLeaf ? [path] : leafPaths(v, path)
  })
}

/** A password in a URL anywhere in a text (JSON included): `scheme://user:secret@`. */
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^:@/?#"\s]*):[^@/?#"\s]*@/gi

const show = (key: Key, value: unknown): string => {
  if (key === 'smtpUsers') return '"***"'
  // A DKIM key may be written inline: its text is never shown.
  if (key === 'dkim') return JSON.stringify(redactDkim(value)) ?? String(value)
  const text = JSON.stringify(value) ?? String(value)
  // A secret setting may hold URLs anywhere in it (the upstreams' JSON, a mistyped value).
  return CONFIG_KEYS[key].secret ? text.replace(URL_PASSWORD, '$1:***@') : text
}

/**
 * Merges the configuration sources, later ones winning: defaults → file → environment →
 * flags. Pure: reading the file is the caller's job (see {@link loadConfig}).
 */
export function mergeConfigSources(inputs: ConfigInputs): MergedConfig {
  const config: Record<string, unknown> = { ...CONFIG_DEFAULTS }
  const sources = Object.fromEntries(KEYS.map((k) => [k, 'default'])) as Record<Key, string>
  const problems: string[] = []

  const apply = (key: Key, raw: unknown, name: string, from: string, source: string): void => {
    const parsed = CONFIG_KEYS[key].parse.safeParse(raw)
    if (!parsed.success) {
      problems.push(
        `${name} = ${show(key, raw)} from ${from}: expected ${CONFIG_KEYS[key].expected}`,
      )
      return
    }
    config[key] = parsed.data
    sources[key] = source
  }

  if (inputs.file) {
    const { path, values } = inputs.file
    if (!values || typeof values !== 'object' || Array.isArray(values)) {
      problems.push(`${path}: expected a JSON object of settings`)
    } else {
      for (const key of KEYS) {
        const raw = readPath(values, CONFIG_KEYS[key].file)
        if (raw !== undefined)
          apply(key, raw, CONFIG_KEYS[key].file, path, `${path} (${CONFIG_KEYS[key].file})`)
      }
      const known = new Set(KEYS.map((k) => CONFIG_KEYS[k].file))
      for (const leaf of leafPaths(values)) {
        if (!known.has(leaf))
          problems.push(`${leaf} from ${path}: unknown key (known: ${[...known].join(', ')})`)
      }
    }
  }
  for (const key of KEYS) {
    const raw = inputs.env?.[CONFIG_KEYS[key].env]
    if (raw !== undefined)
      apply(
        key,
        raw,
        CONFIG_KEYS[key].env,
        'the environment',
        `environment (${CONFIG_KEYS[key].env})`,
      )
  }
  for (const key of KEYS) {
    const raw = inputs.flags?.[key]
    if (raw !== undefined)
      apply(
        key,
        raw,
        CONFIG_KEYS[key].flag,
        'the command line',
        `command line (${CONFIG_KEYS[key].flag})`,
      )
  }

  const merged = config as unknown as OutboxConfig
  if (merged.retryMaxDelayMs < merged.retryInitialDelayMs) {
    problems.push(
      `retry.maxDelay (${formatDuration(merged.retryMaxDelayMs)}) is shorter than retry.initialDelay ` +
        `(${formatDuration(merged.retryInitialDelayMs)}); make it at least as long`,
    )
  }
  // Named upstreams, routes and domain limits refer to each other: checked together, every
  // problem on its own line.
  problems.push(
    ...resolveRoutingSettings(
      { upstreams: merged.upstreams, routes: merged.routes, domainLimits: merged.domainLimits },
      merged.upstream,
      { fromFile: true, defaultRateLimit: merged.rateLimit },
    ).problems,
  )
  return { config: merged, sources, problems }
}

/** The default config file, looked for in the working directory. */
export const CONFIG_FILE = 'outbox.config.json'

/**
 * Reads the config file (`--config PATH`, else `OUTBOX_CONFIG`, else `./outbox.config.json` if
 * it exists) and merges it with the environment and flags.
 */
export function loadConfig(options: {
  configPath?: string
  env: Record<string, string | undefined>
  flags: Partial<Record<Key, string>>
  cwd?: string
}): MergedConfig {
  const explicit = options.configPath ?? options.env.OUTBOX_CONFIG
  const path = resolve(options.cwd ?? process.cwd(), explicit ?? CONFIG_FILE)
  let file: ConfigInputs['file']
  const fileProblems: string[] = []
  if (explicit !== undefined || existsSync(path)) {
    try {
      file = {
        path: explicit ?? CONFIG_FILE,
        values: JSON.parse(readFileSync(path, 'utf8')) as unknown,
      }
    } catch (error) {
      const reason =
        (error as NodeJS.ErrnoException).code === 'ENOENT'
          ? 'no such file'
          : (error as Error).message
      fileProblems.push(`${explicit ?? CONFIG_FILE}: cannot read the config file: ${reason}`)
    }
  }
  const merged = mergeConfigSources({ file, env: options.env, flags: options.flags })
  return { ...merged, problems: [...fileProblems, ...merged.problems] }
}

/** The configuration with secrets (passwords in URLs) replaced by `***`, for printing. */
export function redactConfig(config: OutboxConfig): OutboxConfig {
  return {
    ...config,
    store: redactUrl(config.store),
    upstream: redactUrl(config.upstream),
    upstreams: config.upstreams && redactUpstreams(config.upstreams),
    smtpUsers: config.smtpUsers.map((u) => ({ username: u.username, passwordHash: '***' })),
    dkim: redactDkim(config.dkim) as unknown[] | null,
  }
}

/** DKIM entries with a private key written inline (PEM) shown as `***`; file: and env: kept. */
function redactDkim(dkim: unknown): unknown {
  if (dkim === null || dkim === undefined) return dkim
  if (!Array.isArray(dkim)) return '***'
  return dkim.map((entry: unknown) => {
    if (!entry || typeof entry !== 'object' || !('privateKey' in entry)) return entry
    const key = entry.privateKey
    const reference = typeof key === 'string' && /^\s*(file|env):/.test(key)
    return reference ? entry : { ...entry, privateKey: '***' }
  })
}

/** Named upstreams with the passwords in their URLs replaced by `***`. */
function redactUpstreams(upstreams: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(upstreams).map(([name, value]) => {
      if (typeof value === 'string') return [name, redactUrl(value)]
      if (
        value &&
        typeof value === 'object' &&
        typeof (value as { url?: unknown }).url === 'string'
      ) {
        return [name, { ...value, url: redactUrl((value as { url: string }).url) }]
      }
      return [name, value]
    }),
  )
}
