import { createPublicKey, type KeyObject } from 'node:crypto'
import type { DkimAlgorithm } from '../config/dkim-settings.js'

/** The DNS TXT record that publishes a DKIM key's public half (RFC 6376 3.6.1, RFC 8463). */
export interface DkimDnsRecord {
  domain: string
  selector: string
  algorithm: DkimAlgorithm
  /** `<selector>._domainkey.<domain>` */
  name: string
  type: 'TXT'
  /** `v=DKIM1; k=rsa; p=<base64 SubjectPublicKeyInfo>`, or `k=ed25519` with the raw 32-byte key. */
  value: string
  /** The record as a zone-file line, its value split into quoted strings of at most 255 characters. */
  zoneLine: string
}

/** A TXT record holds strings of at most 255 bytes each; longer values are split over several. */
export const TXT_STRING_MAX = 255

/** Splits a TXT value into strings a zone file (and most DNS consoles) accept. */
export function txtStrings(value: string, max = TXT_STRING_MAX): string[] {
  const strings: string[] = []
  for (let i = 0; i < value.length; i += max) strings.push(value.slice(i, i + max))
  return strings.length > 0 ? strings : ['']
}

/** The `p=` value: the whole SPKI for RSA, the bare 32-byte key for Ed25519 (RFC 8463 4.2). */
function publicKeyData(publicKey: KeyObject, algorithm: DkimAlgorithm): string {
  if (algorithm === 'ed25519-sha256') {
    const x = publicKey.export({ format: 'jwk' }).x
    if (typeof x !== 'string') throw new Error('not an Ed25519 public key')
    return Buffer.from(x, 'base64url').toString('base64')
  }
  return publicKey.export({ type: 'spki', format: 'der' }).toString('base64')
}

/** The record to publish for a key (its private or public half). */
export function dkimDnsRecord(key: {
  domain: string
  selector: string
  algorithm: DkimAlgorithm
  privateKey: KeyObject
}): DkimDnsRecord {
  const publicKey = createPublicKey(key.privateKey)
  const k = key.algorithm === 'ed25519-sha256' ? 'ed25519' : 'rsa'
  const value = `v=DKIM1; k=${k}; p=${publicKeyData(publicKey, key.algorithm)}`
  const name = `${key.selector}._domainkey.${key.domain}`
  const quoted = txtStrings(value)
    .map((s) => `"${s}"`)
    .join(' ')
  return {
    domain: key.domain,
    selector: key.selector,
    algorithm: key.algorithm,
    name,
    type: 'TXT',
    value,
    zoneLine: `${name}. 3600 IN TXT ${quoted}`,
  }
}
