/**
 * Whether a permanent refusal says the address itself is bad (it does not exist, its domain
 * does not, or its mailbox is gone), so that the suppression list stops writing to it. A
 * refusal for any other reason (spam, reputation, policy, authentication, a full mailbox)
 * says nothing about the address and must never suppress it.
 */

// `550 5.1.1 …`, `550-5.1.1 …`, `smtp; 550 5.1.1 …` (a DSN's Diagnostic-Code), `5.1.1 …` (a
// DSN's Status), and qmail's `550 #5.1.0 …`: the enhanced code is the first token after the
// basic one.
const ENHANCED =
  /^\s*(?:smtp\s*;\s*)?(?:[2-5]\d\d[ -])?\s*#?([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$|[;,.:])/i
const BASIC = /^\s*(?:smtp\s*;\s*)?([2-5]\d\d)(?=[ -]|$)/i

/**
 * The enhanced status code (RFC 3463) a reply starts with, e.g. `5.1.1`, or null when it has
 * none. Leading zeros are dropped (`5.1.01` reads as `5.1.1`).
 */
export function enhancedStatus(reply: string): string | null {
  const match = ENHANCED.exec(reply)
  if (!match) return null
  return `${match[1]}.${Number(match[2])}.${Number(match[3])}`
}

/**
 * Enhanced codes that mean the address is bad, on their own:
 * - 5.1.1 bad destination mailbox (no such user), 5.1.2 bad destination system (no such
 *   domain), 5.1.10 the domain publishes a null MX (RFC 7505): it takes no mail at all.
 * - 5.2.1 mailbox disabled: Gmail and Yahoo use it for closed accounts, which do not reopen.
 * - 5.1.6 the mailbox has moved with no forwarding address: the address is gone for good,
 *   which is what the suppression list is for.
 * 5.1.0 ("other address status") is not here: MTAs also send it for sender-address refusals
 * ("550 5.1.0 Sender denied"), and suppressing a recipient for our own sender's fault would
 * be wrong; with 5.1.0 the text must say the address is bad (qmail's "#5.1.0 Address
 * rejected" is that).
 */
const BAD_ADDRESS_STATUSES = new Set(['5.1.1', '5.1.2', '5.1.6', '5.1.10', '5.2.1'])

/**
 * Texts that say the recipient does not exist. "mailbox unavailable" is not one: it is the
 * RFC 5321 text of every 550 ("mailbox not found, no access, or command rejected for policy
 * reasons") and Microsoft sends "550 5.5.0 Requested action not taken: mailbox unavailable"
 * for blocked senders too; "mailbox not found" is specific, and so is Yahoo's "This user
 * doesn't have a yahoo.com account".
 */
const BAD_ADDRESS_TEXT = new RegExp(
  [
    'user unknown',
    'unknown user',
    'unknown recipient',
    'recipient unknown',
    'no such (?:user|recipient|mailbox|address|account)',
    '(?:does not|doesn.t) exist',
    '(?:user|recipient|mailbox|address) not found',
    'mailbox not found',
    'invalid (?:recipient|mailbox)',
    'unrouteable address',
    "(?:doesn't|does not) have an? [\\w.-]+ account",
    'recipientnotfound',
  ].join('|'),
  'i',
)

// qmail and old Yahoo: "553 #5.1.0 Address rejected" for an address that does not exist.
const ADDRESS_REJECTED = /\baddress rejected\b/i

/**
 * Refusals for policy never mean a bad address, whatever else they say: spam and reputation
 * blocks, rate limits, sender authentication (SPF, DKIM, DMARC), and our own sender being
 * refused ("Sender address rejected", Exim's "Sender verify failed").
 */
const POLICY_TEXT =
  /spam|unsolicited|block|blacklist|\bpolicy\b|policies|\brate\b|rate.?limit|too many|dmarc|\bspf\b|dkim|reputation|\bsender\b|relay(?:ing)? (?:access )?denied|\bvirus\b/i

/**
 * Whether a refusal means the address is bad: a 5xx (or, without a basic code, a 5.x.x
 * enhanced code) whose enhanced code is in {@link BAD_ADDRESS_STATUSES}, or a 550–554 whose
 * text says the recipient does not exist. Never for a 4xx, a 5.7.x, or a policy text.
 *
 * @param code the basic reply code (Nodemailer's `responseCode`), or null to read it from `reply`
 * @param reply the reply text, with or without its code
 */
export function isBadAddressReply(code: number | null, reply: string): boolean {
  const basic = code ?? readBasicCode(reply)
  const enhanced = enhancedStatus(reply)
  if (basic !== null && (basic < 500 || basic > 599)) return false
  if (basic === null && !enhanced?.startsWith('5.')) return false
  if (enhanced && !enhanced.startsWith('5.')) return false
  if (enhanced?.startsWith('5.7.')) return false
  if (POLICY_TEXT.test(reply)) return false
  if (enhanced && BAD_ADDRESS_STATUSES.has(enhanced)) return true
  // Replies to RCPT for a mailbox are 550–554; 500–504 are syntax and command errors.
  const mailboxCode = basic === null || (basic >= 550 && basic <= 554)
  if (!mailboxCode) return false
  if (BAD_ADDRESS_TEXT.test(reply)) return true
  return enhanced === '5.1.0' && ADDRESS_REJECTED.test(reply)
}

function readBasicCode(reply: string): number | null {
  const match = BASIC.exec(reply)
  return match ? Number(match[1]) : null
}
