import { createHmac, timingSafeEqual } from 'node:crypto'
import { ConfigError } from '../errors.js'

/**
 * VERP bounce addresses: `bounces+<queueId>-<mac>@<domain>`, one per message and recipient, so
 * that a bounce arriving later names the message and recipient it is about. The mac binds the
 * two together under a secret: without it anyone could mark any recipient of ours as bounced
 * (and so suppress it) by mailing a made-up address.
 */
export interface BounceAddressSettings {
  /** The domain bounces come back to (its MX points at Outbox's SMTP listener). */
  domain: string
  /** Local part before the `+`. @default 'bounces' */
  localPart?: string
  /** HMAC key, at least 16 characters. Changing it invalidates addresses already sent. */
  secret: string
}

/** The two parts of a bounce address's token, not yet checked against a recipient. */
export interface ParsedBounceAddress {
  queueId: string
  mac: string
}

// Lower-case Crockford base32, the queue id's alphabet: local parts are lower-cased by some
// MTAs on the way back, so the token must survive that.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'
const SYMBOL = '[0-9a-hjkmnp-tv-z]'
const QUEUE_ID_LENGTH = 20
const MAC_LENGTH = 16
const TOKEN = new RegExp(`^(${SYMBOL}{${QUEUE_ID_LENGTH}})-(${SYMBOL}{${MAC_LENGTH}})$`)
const LOCAL_PART = /^[a-z0-9][a-z0-9._-]*$/
// RFC 5321's limit on a local part; longer ones are refused by some MTAs.
const MAX_LOCAL_PART = 64
const MIN_SECRET = 16

/** The envelope sender for `recipient` of queue message `queueId`. */
export function bounceAddress(
  settings: BounceAddressSettings,
  queueId: string,
  recipient: string,
): string {
  const { localPart, domain, secret } = checked(settings)
  if (!TOKEN.test(`${queueId}-${'0'.repeat(MAC_LENGTH)}`)) {
    throw new TypeError(`Expected a queue id (20 characters of Crockford base32), got ${queueId}`)
  }
  return `${localPart}+${queueId}-${mac(secret, queueId, recipient)}@${domain}`
}

/**
 * The queue id and mac of a bounce address, or null when it is not one of ours: another
 * domain (compared case-insensitively), another local part, or a malformed token. Accepts the
 * address with or without angle brackets and in any case.
 */
export function parseBounceAddress(
  settings: BounceAddressSettings,
  address: string,
): ParsedBounceAddress | null {
  const { localPart, domain } = checked(settings)
  const parts = splitAddress(address)
  if (!parts || parts.domain !== domain) return null
  const prefix = `${localPart}+`
  if (!parts.local.startsWith(prefix)) return null
  const match = TOKEN.exec(parts.local.slice(prefix.length))
  return match ? { queueId: match[1]!, mac: match[2]! } : null
}

/** Whether a parsed bounce address was made by us for this recipient (constant time). */
export function bounceTokenMatches(
  settings: BounceAddressSettings,
  parsed: ParsedBounceAddress,
  recipient: string,
): boolean {
  const expected = Buffer.from(mac(checked(settings).secret, parsed.queueId, recipient))
  const given = Buffer.from(parsed.mac.toLowerCase())
  return given.length === expected.length && timingSafeEqual(given, expected)
}

/** Whether an address is at the bounce domain (any local part), case-insensitively. */
export function isBounceDomain(settings: BounceAddressSettings, address: string): boolean {
  return splitAddress(address)?.domain === checked(settings).domain
}

function mac(secret: string, queueId: string, recipient: string): string {
  const digest = createHmac('sha256', secret)
    .update(`${queueId}\n${recipient.toLowerCase()}`)
    .digest()
  return base32(digest).slice(0, MAC_LENGTH)
}

function base32(bytes: Buffer): string {
  let out = ''
  let bits = 0
  let value = 0
  for (const byte of bytes) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31]!
      bits -= 5
    }
    value &= (1 << bits) - 1
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31]!
  return out
}

function splitAddress(address: string): { local: string; domain: string } | null {
  const bare = address
    .trim()
    .replace(/^<(.*)>$/, '$1')
    .toLowerCase()
  const at = bare.lastIndexOf('@')
  if (at <= 0 || at === bare.length - 1) return null
  return { local: bare.slice(0, at), domain: normalizeDomain(bare.slice(at + 1)) }
}

function normalizeDomain(domain: string): string {
  return domain.toLowerCase().replace(/\.$/, '')
}

function checked(settings: BounceAddressSettings): Required<BounceAddressSettings> {
  const localPart = settings.localPart ?? 'bounces'
  if (!LOCAL_PART.test(localPart)) {
    throw new ConfigError(
      'bounces.localPart',
      `Expected bounces.localPart to be lower-case letters, digits, '.', '_' or '-', got ${JSON.stringify(localPart)}`,
    )
  }
  const longest = localPart.length + 1 + QUEUE_ID_LENGTH + 1 + MAC_LENGTH
  if (longest > MAX_LOCAL_PART) {
    throw new ConfigError(
      'bounces.localPart',
      `bounces.localPart ${JSON.stringify(localPart)} is too long: bounce addresses would have ${longest} characters before the @, more than ${MAX_LOCAL_PART}; use at most ${MAX_LOCAL_PART - longest + localPart.length}.`,
    )
  }
  if (settings.secret.length < MIN_SECRET) {
    throw new ConfigError(
      'bounces.secret',
      `bounces.secret must have at least ${MIN_SECRET} characters (got ${settings.secret.length}); generate one with \`openssl rand -hex 32\`.`,
    )
  }
  const domain = normalizeDomain(settings.domain.trim())
  if (!/^[a-z0-9-]+(?:\.[a-z0-9-]+)*$/.test(domain)) {
    throw new ConfigError(
      'bounces.domain',
      `Expected bounces.domain to be a domain name, got ${JSON.stringify(settings.domain)}`,
    )
  }
  return { localPart, domain, secret: settings.secret }
}
