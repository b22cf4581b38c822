const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * The characters of a header value read one byte per character (latin1): raw 8-bit bytes are
 * UTF-8 when they decode as UTF-8 (SMTPUTF8, 8BITMIME, RFC 6532), and stay Latin-1 otherwise,
 * the usual charset of old mailers that send 8-bit headers.
 */
export function decodeHeaderBytes(latin1: string): string {
  if (!/[\x80-\xff]/.test(latin1)) return latin1
  try {
    return utf8.decode(Buffer.from(latin1, 'latin1'))
  } catch {
    return latin1
  }
}

/**
 * The text a person reads in an unstructured header (Subject): raw 8-bit bytes decoded, RFC 2047
 * encoded words (`=?utf-8?q?caf=C3=A9?=`, `=?iso-8859-1?b?…?=`) decoded, control characters
 * (which could drive a terminal showing `outbox list`) made spaces, and Unicode in NFC so that
 * a search for "café" finds it however it was composed.
 */
export async function decodeHeaderText(latin1: string): Promise<string> {
  const text = decodeHeaderBytes(latin1)
  // The decoder is loaded only for text that has encoded words: importing Outbox loads no
  // MIME parser.
  const decoded = text.includes('=?') ? (await import('postal-mime')).decodeWords(text) : text
  return decoded.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ').normalize('NFC')
}
