import { createPrivateKey, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { normaliseDomain } from './routing-settings.js'

/**
 * The `dkim` setting: one signing key per domain. Every key is read and checked here, when the
 * Outbox starts (readable, a private key, of the algorithm's type, RSA of 1024 bits or more),
 * so a bad one stops the start with the domain named instead of failing the first send. Like
 * the routing settings, every problem is reported, one line each, naming the setting by its
 * path (`dkim[0].privateKey`). A key's text is never part of a message.
 */

/** The signing algorithms receivers verify (RFC 6376, RFC 8463). */
export const DKIM_ALGORITHMS = ['rsa-sha256', 'ed25519-sha256'] as const
export type DkimAlgorithm = (typeof DKIM_ALGORITHMS)[number]

/** The key type node:crypto reports for each algorithm. */
const KEY_TYPE: Record<DkimAlgorithm, string> = { 'rsa-sha256': 'rsa', 'ed25519-sha256': 'ed25519' }

/** Receivers ignore signatures by shorter RSA keys (RFC 8301). */
export const MIN_RSA_BITS = 1024

/** One signing key after validation. */
export interface DkimKeySetting {
  /** The signing domain (`d=`), lower-case ASCII (punycode). Signs its subdomains' mail too. */
  domain: string
  /** The selector (`s=`): the key's record is `<selector>._domainkey.<domain>`. */
  selector: string
  algorithm: DkimAlgorithm
  privateKey: KeyObject
  /** Header fields to sign, or null for mailauth's default list. `from` is always among them. */
  headers: string[] | null
  /** Where the key came from, for messages: `file:/etc/outbox/s1.pem`, `env:VAR`, `inline PEM`. */
  source: string
}

/** The signing keys of one Outbox. */
export interface DkimSettings {
  keys: readonly DkimKeySetting[]
}

/** One entry of the `dkim` setting as written. */
export interface DkimKeyInput {
  domain: string
  selector: string
  /** `file:/path/to/key.pem`, `env:VARIABLE` (holding the PEM), or the PEM text itself. */
  privateKey: string | Buffer
  /** @default 'rsa-sha256' */
  algorithm?: DkimAlgorithm
  /** Header fields to sign; must include `from`. @default mailauth's list (From, To, Subject, Date, …) */
  headers?: string[]
}

export const NO_DKIM: DkimSettings = Object.freeze({ keys: Object.freeze([]) })

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

const show = (v: unknown): string => JSON.stringify(v) ?? String(v)

/** A selector is one or more DNS labels (RFC 6376 3.1). */
const SELECTOR =
  /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/i

export function isSelector(value: string): boolean {
  return SELECTOR.test(value)
}

/** A header field name (RFC 5322 2.2: printable ASCII but the colon). */
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/

const KNOWN_KEYS = ['domain', 'selector', 'privateKey', 'algorithm', 'headers']

/** What {@link resolveDkimSettings} reads the keys with; the process's own by default. */
export interface DkimSources {
  env?: Record<string, string | undefined>
  cwd?: string
}

type KeyText = { text: string | Buffer; source: string } | { problem: string }

/** The PEM text a `privateKey` value names, or what is wrong with it (never the value itself). */
function keyText(raw: unknown, sources: DkimSources): KeyText {
  if (Buffer.isBuffer(raw)) return { text: raw, source: 'inline PEM' }
  if (typeof raw !== 'string' || raw.trim() === '') {
    return { problem: 'missing: give file:PATH, env:VARIABLE or the PEM text of the private key' }
  }
  const value = raw.trim()
  if (value.startsWith('file:')) {
    const path = resolve(sources.cwd ?? process.cwd(), value.slice('file:'.length))
    const source = `file:${path}`
    try {
      return { text: readFileSync(path), source }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      const why =
        code === 'ENOENT'
          ? 'no such file; check the path'
          : code === 'EACCES' || code === 'EPERM'
            ? "permission denied; let Outbox's user read it (and only that user: chmod 600)"
            : code === 'EISDIR'
              ? 'a folder, not a file; name the PEM file itself'
              : `${code ?? (error as Error).message}; check the path`
      return { problem: `cannot read ${source}: ${why}` }
    }
  }
  if (value.startsWith('env:')) {
    const name = value.slice('env:'.length)
    const text = (sources.env ?? process.env)[name]
    if (text === undefined || text.trim() === '') {
      return {
        problem: `environment variable ${name} is ${text === undefined ? 'not set' : 'empty'}; set it to the PEM text of the private key`,
      }
    }
    // A PEM in a one-line variable is often written with \n for its line breaks.
    const pem = text.includes('\n') ? text : text.replace(/\\n/g, '\n')
    return { text: pem, source: `env:${name}` }
  }
  if (value.startsWith('-----BEGIN')) return { text: value, source: 'inline PEM' }
  return {
    problem:
      'not a key reference: give file:PATH, env:VARIABLE or the PEM text ("-----BEGIN PRIVATE KEY-----…")',
  }
}

/** Reads and checks a private key; returns it, or what is wrong with it. */
function loadKey(
  text: string | Buffer,
  algorithm: DkimAlgorithm,
): { key: KeyObject } | { problem: string } {
  let key: KeyObject
  try {
    key = createPrivateKey({ key: text, format: 'pem' })
  } catch (error) {
    const message = (error as Error).message
    if (/passphrase/i.test(message)) {
      return {
        problem:
          'an encrypted key: Outbox cannot ask for its passphrase; decrypt it with `openssl pkey -in KEY -out PLAIN` and keep that file private',
      }
    }
    return {
      problem:
        'not a PEM private key (expected "-----BEGIN PRIVATE KEY-----" or "-----BEGIN RSA PRIVATE KEY-----"); create one with `outbox dkim generate`',
    }
  }
  const type = key.asymmetricKeyType ?? 'unknown'
  if (type !== KEY_TYPE[algorithm]) {
    const other = DKIM_ALGORITHMS.find((a) => KEY_TYPE[a] === type)
    return {
      problem: other
        ? `an ${type} key, but algorithm is ${algorithm}; set algorithm to "${other}", or use an ${KEY_TYPE[algorithm]} key`
        : `a key of type ${type}; DKIM signs with rsa (rsa-sha256) or ed25519 (ed25519-sha256) keys`,
    }
  }
  const bits = key.asymmetricKeyDetails?.modulusLength
  if (type === 'rsa' && bits !== undefined && bits < MIN_RSA_BITS) {
    return {
      problem: `a ${bits}-bit RSA key: receivers ignore signatures by keys under ${MIN_RSA_BITS} bits; create a 2048-bit one with \`outbox dkim generate\``,
    }
  }
  return { key }
}

/**
 * Validates the `dkim` setting and reads its keys. Returns the settings (with the valid keys),
 * or the problems, one line each, when there are any.
 */
export function resolveDkimSettings(
  input: unknown,
  sources: DkimSources = {},
): { settings: DkimSettings; problems: string[] } {
  const problems: string[] = []
  if (input === undefined || input === null) return { settings: NO_DKIM, problems }
  const list = input
  if (!Array.isArray(list)) {
    // Not shown: it may hold a key's text.
    const type = isObject(input) ? 'an object' : `a ${typeof input}`
    problems.push(
      `dkim: expected a list of keys, such as [{ "domain": "example.com", "selector": "s1", "privateKey": "file:/etc/outbox/s1.pem" }], got ${type}`,
    )
    return { settings: NO_DKIM, problems }
  }
  const keys: DkimKeySetting[] = []
  /** Each domain's entry, to refuse a second key for it. */
  const seen = new Map<string, number>()
  list.forEach((raw: unknown, i) => {
    const path = `dkim[${i}]`
    if (!isObject(raw)) {
      problems.push(`${path}: expected { domain, selector, privateKey, algorithm, headers }`)
      return
    }
    for (const key of Object.keys(raw)) {
      if (!KNOWN_KEYS.includes(key))
        problems.push(`${path}.${key}: unknown key (known: ${KNOWN_KEYS.join(', ')})`)
    }
    const domain = typeof raw.domain === 'string' ? normaliseDomain(raw.domain) : ''
    if (!domain) {
      problems.push(
        `${path}.domain = ${show(raw.domain)}: expected the domain of the From addresses to sign, such as "example.com"`,
      )
    }
    /** Names the entry in each of its problems, as the domain is what people look for. */
    const of = domain ? ` (${domain})` : ''
    if (domain) {
      const first = seen.get(domain)
      if (first !== undefined) {
        problems.push(
          `${path}.domain${of}: dkim[${first}] has a key for it already; keep one key per domain (to change keys, replace the entry and publish the new selector's record first)`,
        )
      } else seen.set(domain, i)
    }
    const selector = typeof raw.selector === 'string' ? raw.selector.trim() : ''
    if (!isSelector(selector)) {
      problems.push(
        `${path}.selector${of} = ${show(raw.selector)}: expected a DNS label such as "s1" or "2024a" (the record goes at <selector>._domainkey.${domain || '<domain>'})`,
      )
    }
    const algorithm = raw.algorithm ?? 'rsa-sha256'
    const algorithmOk = DKIM_ALGORITHMS.includes(algorithm as DkimAlgorithm)
    if (!algorithmOk) {
      problems.push(
        `${path}.algorithm${of} = ${show(raw.algorithm)}: expected one of ${DKIM_ALGORITHMS.join(', ')}`,
      )
    }
    let headers: string[] | null = null
    if (raw.headers !== undefined) {
      const h = raw.headers
      if (
        !Array.isArray(h) ||
        h.length === 0 ||
        !h.every((v) => typeof v === 'string' && FIELD_NAME.test(v))
      ) {
        problems.push(
          `${path}.headers${of} = ${show(h)}: expected a list of header field names, such as ["from", "to", "subject", "date", "message-id"]`,
        )
      } else if (!h.some((v: string) => v.toLowerCase() === 'from')) {
        problems.push(
          `${path}.headers${of}: must include "from" (a DKIM signature always covers From, RFC 6376 5.4)`,
        )
      } else headers = [...new Set((h as string[]).map((v) => v.toLowerCase()))]
    }
    const text = keyText(raw.privateKey, sources)
    if ('problem' in text) {
      problems.push(`${path}.privateKey${of}: ${text.problem}`)
      return
    }
    if (!algorithmOk) return
    const loaded = loadKey(text.text, algorithm as DkimAlgorithm)
    if ('problem' in loaded) {
      problems.push(`${path}.privateKey${of} from ${text.source}: ${loaded.problem}`)
      return
    }
    if (!domain || !isSelector(selector) || (raw.headers !== undefined && !headers)) return
    keys.push(
      Object.freeze({
        domain,
        selector,
        algorithm: algorithm as DkimAlgorithm,
        privateKey: loaded.key,
        headers,
        source: text.source,
      }),
    )
  })
  return { settings: Object.freeze({ keys: Object.freeze(keys) }), problems }
}
