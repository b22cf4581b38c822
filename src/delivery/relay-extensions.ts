import type { TransportNeeds } from '../message/transport-needs.js'

/**
 * The SMTP extension a message needs and the server does not offer, or null. Pure.
 * - `SMTPUTF8` (RFC 6531) for a non-ASCII envelope address.
 * - `8BITMIME` (RFC 6152) for 8-bit data: sending it undeclared breaks the standard, and
 *   servers and filters on the way may mangle or refuse it.
 */
export function missingExtension(
  needs: TransportNeeds,
  offered: ReadonlySet<string>,
): 'SMTPUTF8' | '8BITMIME' | null {
  if (needs.smtpUtf8 && !offered.has('SMTPUTF8')) return 'SMTPUTF8'
  if (needs.eightBit && !offered.has('8BITMIME')) return '8BITMIME'
  return null
}

/**
 * The error a message fails with when the server lacks an extension it needs: nothing is sent.
 * Permanent, as Postfix bounces such mail (`ENOTOFFERED` is classified with the message's own
 * failures); once the upstream offers it, `outbox retry --failed` sends it.
 */
export function notOfferedError(
  extension: 'SMTPUTF8' | '8BITMIME',
): Error & { code: string; command: string } {
  const text =
    extension === 'SMTPUTF8'
      ? '5.6.7 Not sent: an envelope address is not ASCII and the upstream does not offer SMTPUTF8 (RFC 6531). Relay through a server that offers SMTPUTF8.'
      : '5.6.3 Not sent: the message has 8-bit data and the upstream does not offer 8BITMIME, and Outbox never sends 8-bit data undeclared (RFC 6152). Relay through a server that offers 8BITMIME (every current MTA does).'
  return Object.assign(new Error(text), { code: 'ENOTOFFERED', command: 'MAIL FROM' })
}
