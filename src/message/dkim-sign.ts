import type { KeyObject } from 'node:crypto'
import type { DkimKeySetting, DkimSettings } from '../config/dkim-settings.js'
import { ErrorCodes, OutboxError } from '../errors.js'
import { fromHeaderDomain } from './from-domain.js'
import { findHeaderSection, traceFieldsEnd } from './header-section.js'

/** Signs messages with the configured DKIM keys. */
export interface DkimSigner {
  /**
   * The message with a DKIM-Signature header added, by the key of its From domain or of the
   * nearest configured parent domain; the same Buffer when no key applies.
   */
  sign(raw: Buffer): Promise<Buffer>
}

/** mailauth takes PEM text: exported once per key, on its first use. */
const pems = new WeakMap<KeyObject, string>()

function pemOf(key: KeyObject): string {
  let pem = pems.get(key)
  if (pem === undefined) {
    pem = key.export({ type: 'pkcs8', format: 'pem' }).toString()
    pems.set(key, pem)
  }
  return pem
}

/** The key that signs mail From `domain`: its own, else the longest configured parent's. */
export function keyForDomain(
  keys: ReadonlyMap<string, DkimKeySetting>,
  domain: string,
): DkimKeySetting | null {
  for (let d = domain; d !== ''; d = d.includes('.') ? d.slice(d.indexOf('.') + 1) : '') {
    const key = keys.get(d)
    if (key) return key
  }
  return null
}

/**
 * A signer for the given keys. Signing is done with mailauth (relaxed/relaxed canonicalisation):
 * the bytes of the message are left as they are, and the signature is placed just below the
 * trace fields (`Received:`) at the top of the header, as every field Outbox adds.
 */
export function createDkimSigner(settings: DkimSettings): DkimSigner {
  const byDomain = new Map(settings.keys.map((key) => [key.domain, key]))
  // With keys, mailauth is loaded now, in the background: the first send() must not wait the
  // half second it takes. (A failure to load shows at the first message to sign.)
  if (byDomain.size > 0) void import('mailauth').catch(() => {})
  return {
    async sign(raw) {
      if (byDomain.size === 0) return raw
      const domain = fromHeaderDomain(raw)
      const key = domain === null ? null : keyForDomain(byDomain, domain)
      if (!key) return raw
      const signature = {
        signingDomain: key.domain,
        selector: key.selector,
        privateKey: pemOf(key.privateKey),
        algorithm: key.algorithm,
        canonicalization: 'relaxed/relaxed',
      }
      // Loaded on the first message to sign (it takes half a second): importing Outbox, or
      // running it without keys, never loads it.
      const { dkimSign } = await import('mailauth')
      const result = await dkimSign(raw, {
        // One time for t=: without it mailauth reads the clock once for the header it signs and
        // again for the header it returns, and a signing that straddles a half second carries a
        // t= other than the one signed (a signature that fails everywhere, 1 in ~300).
        signTime: new Date(),
        // mailauth signs with the entries of signatureData; its types want one at the top too.
        ...signature,
        signatureData: [signature],
        // mailauth reads the list as colon-separated text (an array falls back to its default).
        ...(key.headers ? { headerList: key.headers.join(':') as unknown as string[] } : {}),
      })
      // mailauth reports a failure as { err, selector, signingDomain }.
      const failure = result.errors[0] as { err?: Error } | undefined
      // Folded lines end in CRLF, as every line of a stored message does.
      const header = result.signatures.trim().replace(/\r?\n/g, '\r\n')
      if (failure || !header.startsWith('DKIM-Signature:')) {
        const cause = failure?.err
        throw new OutboxError(
          ErrorCodes.DKIM_SIGNING_FAILED,
          `DKIM signing for ${key.domain} (selector ${key.selector}) failed: ${cause?.message ?? 'no signature was made'}. Nothing was stored; check the key with \`outbox dkim dns ${key.domain}\`.`,
          { cause },
        )
      }
      const at = traceFieldsEnd(raw, findHeaderSection(raw))
      return Buffer.concat([
        raw.subarray(0, at),
        Buffer.from(`${header}\r\n`, 'latin1'),
        raw.subarray(at),
      ])
    },
  }
}
