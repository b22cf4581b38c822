import { decodeWords } from 'postal-mime'

const utf8 = new TextDecoder('utf-8', { fatal: true })
// What mail readers assume of 8-bit header bytes that are not UTF-8 (WHATWG's "latin1").
const windows1252 = new TextDecoder('windows-1252')

/**
 * The characters of a header value read one byte per character (latin1): raw 8-bit bytes are
 * UTF-8 when they decode as UTF-8 (SMTPUTF8, 8BITMIME, RFC 6532), Windows-1252 otherwise.
 */
export function decodeHeaderBytes(latin1: string): string {
  if (!/[\x80-\xff]/.test(latin1)) return latin1
  const bytes = Buffer.from(latin1, 'latin1')
  try {
    return utf8.decode(bytes)
  } catch {
    return windows1252.decode(bytes)
  }
}

/**
 * The text a person reads in an unstructured header (Subject): raw 8-bit bytes decoded, RFC 2047
 * encoded words (`=?utf-8?q?caf=C3=A9?=`, `=?iso-8859-1?b?…?=`) decoded, control characters
 * (which could drive a terminal showing `outbox list`) made spaces, and Unicode in NFC so that
 * a search for "café" finds it however it was composed.
 */
export function decodeHeaderText(latin1: string): string {
  return decodeWords(decodeHeaderBytes(latin1))
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ')
    .normalize('NFC')
}
