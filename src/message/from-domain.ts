import { domainToASCII } from 'node:url'
import addressparser from 'nodemailer/lib/addressparser'
import { findHeaderSection, headerText, readHeader } from './header-section.js'
import { decodeHeaderBytes } from './header-text.js'

/**
 * The domain of a message's `From:` header (its first address, when it names several), in
 * lower-case ASCII (an internationalised domain in punycode): the domain a receiver aligns a
 * DKIM signature with (DMARC). Null when the message has no From header or no address in it.
 */
export function fromHeaderDomain(raw: Buffer): string | null {
  const value = readHeader(headerText(raw, findHeaderSection(raw)), 'from')
  if (value === null) return null
  const address = addressparser(decodeHeaderBytes(value), { flatten: true }).find((a) =>
    a.address.includes('@'),
  )?.address
  if (!address) return null
  const domain = domainToASCII(
    address
      .slice(address.lastIndexOf('@') + 1)
      .trim()
      .replace(/\.$/, '')
      .toLowerCase(),
  )
  return domain === '' ? null : domain
}
