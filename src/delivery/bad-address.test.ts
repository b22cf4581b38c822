import { describe, expect, it } from 'vitest'
import { enhancedStatus, isBadAddressReply } from './bad-address.js'

// Replies as the providers send them (multi-line replies as Nodemailer joins them).
const BAD: [string, number | null, string][] = [
  [
    'Gmail, no such account',
    550,
    "550-5.1.1 The email account that you tried to reach does not exist. Please try\n550-5.1.1 double-checking the recipient's email address for typos or\n550-5.1.1 unnecessary spaces. For more information, go to\n550 5.1.1  https://support.google.com/mail/?p=NoSuchUser a1si123456qkb.12 - gsmtp",
  ],
  [
    'Gmail, disabled account',
    550,
    '550-5.2.1 The email account that you tried to reach is disabled. For more information, go to\n550 5.2.1  https://support.google.com/mail/?p=DisabledUser a1si123456qkb.12 - gsmtp',
  ],
  [
    'Microsoft 365, recipient not found',
    550,
    '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient nobody@contoso.com not found by SMTP address lookup',
  ],
  [
    'Outlook.com, 5.1.1',
    550,
    '550 5.1.1 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup',
  ],
  [
    'Yahoo, no account',
    554,
    "554 delivery error: dd This user doesn't have a yahoo.com account (nobody@yahoo.com) [0] - mta1234.mail.bf1.yahoo.com",
  ],
  ['Yahoo, mailbox not found', 552, '552 1 Requested mail action aborted, mailbox not found'],
  [
    'Postfix, virtual table',
    550,
    '550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in virtual mailbox table',
  ],
  [
    'Postfix, local table',
    550,
    '550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local recipient table',
  ],
  ['Exim, unrouteable', 550, '550 Unrouteable address'],
  ['Exim (cPanel), no such user', 550, '550 No Such User Here'],
  ['Sendmail', 550, '550 5.1.1 <nobody@example.com>... User unknown'],
  ['SES, diagnostic code', null, 'smtp; 550 5.1.1 user unknown'],
  [
    'Mailgun relaying Gmail',
    550,
    "550 5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address",
  ],
  ['no such domain', 550, '550 5.1.2 <nobody@nowhere.example>: Host or domain name not found'],
  ['null MX', 556, '556 5.1.10 Recipient address has null MX'],
  ['mailbox moved', 551, '551 5.1.6 User has moved; no forwarding address'],
  ['qmail', 553, '553 #5.1.0 Address rejected nobody@example.com'],
  ['551 user not local', 551, '551 User not local; no such user here'],
  ['DSN status only', null, '5.1.1'],
  ['code read from the reply', null, '550 5.1.1 unknown user'],
]

const NOT_BAD: [string, number | null, string][] = [
  [
    'Gmail spam block',
    550,
    '550-5.7.1 [192.0.2.1] Our system has detected that this message is likely unsolicited\n550 5.7.1 mail. To reduce the amount of spam sent to Gmail, this message has been blocked. - gsmtp',
  ],
  [
    'Gmail DMARC',
    550,
    "550-5.7.26 Unauthenticated email from example.com is not accepted due to domain's\n550 5.7.26 DMARC policy. - gsmtp",
  ],
  [
    'Gmail SPF',
    550,
    '550-5.7.23 The message was not sent because the sender domain SPF policy does not allow it. - gsmtp',
  ],
  [
    'Gmail rate limit (even as a 5xx)',
    550,
    '550-5.2.1 The user you are trying to contact is receiving mail at a rate that\n550 5.2.1 prevents additional messages from being delivered. - gsmtp',
  ],
  [
    'Microsoft, mailbox unavailable',
    550,
    '550 5.5.0 Requested action not taken: mailbox unavailable',
  ],
  [
    'Microsoft, blocked IP',
    550,
    "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider. (S3140)",
  ],
  [
    'mailbox unavailable without detail',
    550,
    '550 Requested action not taken: mailbox unavailable',
  ],
  ['mailbox full', 552, '552 5.2.2 <user@example.com>: Mailbox full'],
  ['Yahoo policy', 554, '554 5.7.9 Message not accepted for policy reasons.'],
  ['relay denied', 554, '554 5.7.1 <nobody@example.org>: Relay access denied'],
  [
    'temporary unknown user',
    451,
    '451 4.1.1 <nobody@example.com>: Recipient address rejected: unverified address',
  ],
  ['greylisting', 450, '450 4.2.0 <user@example.com>: Recipient address rejected: Greylisted'],
  ['4xx with a bad-address text', 450, '450 4.1.1 User unknown in local recipient table'],
  ['4xx code, 5.x.x text', 421, '421 5.1.1 user unknown'],
  [
    'Spamhaus listing',
    554,
    '554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org',
  ],
  [
    'sender rejected',
    553,
    '553 5.1.8 <shop@example.com>: Sender address rejected: Domain not found',
  ],
  [
    'Exim sender verify',
    550,
    '550-Verification failed for <shop@example.com>\n550-Unrouteable address\n550 Sender verify failed',
  ],
  ['5.1.0 without a bad-address text', 550, '550 5.1.0 Sender denied'],
  ['syntax error', 501, '501 5.5.4 Syntax: RCPT TO:<address>'],
  ['message too big', 552, '552 5.3.4 Message size exceeds fixed limit'],
  ['content refused', 554, '554 5.6.0 Message rejected: does not exist in policy'],
  ['no code at all', null, 'user unknown'],
  ['empty', null, ''],
]

describe('isBadAddressReply', () => {
  it.each(BAD)('%s: bad address', (_name, code, reply) => {
    expect(isBadAddressReply(code, reply)).toBe(true)
  })
  it.each(NOT_BAD)('%s: not a bad address', (_name, code, reply) => {
    expect(isBadAddressReply(code, reply)).toBe(false)
  })
})

describe('enhancedStatus', () => {
  it.each([
    ['550 5.1.1 User unknown', '5.1.1'],
    ['550-5.1.1 The email account', '5.1.1'],
    ['550 5.1.10 RESOLVER.ADR.RecipientNotFound', '5.1.10'],
    ['smtp; 550 5.7.26 DMARC', '5.7.26'],
    ['553 #5.1.0 Address rejected', '5.1.0'],
    ['5.1.1', '5.1.1'],
    ['550 5.1.01 padded', '5.1.1'],
    ['250 2.0.0 Ok: queued', '2.0.0'],
    ['550 User unknown 5.1.1', null],
    ['550 Unrouteable address', null],
    ['5.1.1x', null],
    ['', null],
  ])('%j → %j', (reply, status) => {
    expect(enhancedStatus(reply)).toBe(status)
  })
})
