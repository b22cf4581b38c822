/**
 * Whether a reply means "you are sending too fast" rather than "this message has a problem":
 * a 421, 451 or 454 with an enhanced status code 4.7.x (policy: SES's `454 4.7.0 Throttling`,
 * Gmail's `421 4.7.28`, Microsoft's `451 4.7.500`) or wording that says so. Such replies lower
 * the sending rate (adaptive throttling) instead of counting toward the message's backoff.
 */
export function isThrottlingReply(code: number | null, reply: string): boolean {
  if (code !== 421 && code !== 451 && code !== 454) return false
  return (
    /(^|[\s-])4\.7\.\d{1,3}\b/.test(reply) ||
    /\b(throttl\w*|rate|too many (messages|connections|mails?|emails?)|try again later|slow down)\b/i.test(
      reply,
    )
  )
}
