import { createPublicKey, generateKeyPairSync } from 'node:crypto'
import { dkimVerify } from 'mailauth'

/** A new private key in PEM (PKCS#8), made here: tests never ship a key. */
export function newDkimKey(algorithm: 'rsa-sha256' | 'ed25519-sha256' = 'rsa-sha256', bits = 1024) {
  const { privateKey } =
    algorithm === 'rsa-sha256'
      ? generateKeyPairSync('rsa', { modulusLength: bits })
      : generateKeyPairSync('ed25519')
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
}

/**
 * The TXT value that publishes a private key's public half, worked out here (not by Outbox):
 * the SubjectPublicKeyInfo for RSA, the bare 32-byte key for Ed25519 (RFC 8463).
 */
export function dnsValue(pem: string): string {
  const publicKey = createPublicKey(pem)
  const der = publicKey.export({ type: 'spki', format: 'der' })
  return publicKey.asymmetricKeyType === 'ed25519'
    ? `v=DKIM1; k=ed25519; p=${der.subarray(der.length - 32).toString('base64')}`
    : `v=DKIM1; k=rsa; p=${der.toString('base64')}`
}

/** What one DKIM signature in a message verified as. */
export interface DkimCheck {
  domain: string
  selector: string | undefined
  algorithm: string | undefined
  result: string
}

/**
 * Verifies a message's DKIM signatures with mailauth, an independent verifier, its DNS
 * answered by a stub resolver that serves the given TXT records (name → value), split into
 * strings of at most 255 characters as DNS carries them. No network.
 */
export async function verifyDkim(
  raw: Buffer,
  records: Record<string, string>,
): Promise<DkimCheck[]> {
  const result = await dkimVerify(raw, {
    resolver: async (name: string, type: string) => {
      const value = records[name]
      if (type !== 'TXT' || value === undefined) {
        throw Object.assign(new Error(`no ${type} record for ${name}`), { code: 'ENOTFOUND' })
      }
      const strings: string[] = []
      for (let i = 0; i < value.length; i += 255) strings.push(value.slice(i, i + 255))
      return [strings]
    },
  })
  return result.results.map((r) => ({
    domain: r.signingDomain,
    selector: r.selector,
    // mailauth names it `algo` (its type declarations say `algorithm`).
    algorithm: (r as { algo?: string }).algo ?? r.algorithm,
    result: r.status.result,
  }))
}

/** How many DKIM-Signature fields the header section holds. */
export function dkimSignatureCount(raw: Buffer): number {
  const end = raw.indexOf('\r\n\r\n')
  const head = raw.subarray(0, end === -1 ? raw.length : end).toString('latin1')
  return head.match(/^dkim-signature:/gim)?.length ?? 0
}
