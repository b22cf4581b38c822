import addressparser from 'nodemailer/lib/addressparser'
import { findHeaderSection, headerText, readHeaders } from '../message/header-section.js'
import { decodeHeaderBytes } from '../message/header-text.js'
import type { RawMessageInput } from '../message/compose-raw.js'
import { rfc5322Date } from '../message/rfc5322-date.js'

/** What `sendmail` was asked to do, from its flags. */
export interface SendmailRequest {
  /** -t: the recipients are (also) every To, Cc and Bcc header. */
  fromHeaders: boolean
  /** -f: the envelope sender; otherwise the From header's, otherwise `localSender`. */
  sender: string | null
  /** Recipients named as arguments. */
  recipients: string[]
  /** user@host of the person running sendmail, as sendmail uses it when nothing else says. */
  localSender: string
  /** The time for a Date header the message lacks. */
  now: Date
}

/** Every address in the named headers (all of them: a message may have two To headers). */
function addressesIn(headerBlock: string, name: string): string[] {
  return readHeaders(headerBlock, name).flatMap((value) =>
    addressparser(decodeHeaderBytes(value), { flatten: true })
      .map((a) => a.address)
      .filter(Boolean),
  )
}

/** Removes every Bcc header (and its continuation lines): Bcc recipients go in the envelope only. */
function withoutBcc(headerBlock: string): string {
  return headerBlock.replace(/^bcc[ \t]*:.*(\r?\n[ \t].*)*(\r?\n|$)/gim, '')
}

/**
 * Turns what a program piped into `sendmail` into an envelope and a message, as Postfix's
 * sendmail does: a leading mbox `From ` line is dropped; input that does not start with a
 * header block is all body; a message without From or Date gets them (the Message-ID is
 * added when the message is stored), placed at the end of its header section, followed by the
 * blank line that separates the body.
 */
export function prepareSendmailMessage(input: Buffer, request: SendmailRequest): RawMessageInput {
  let message = input
  const firstLine = message.subarray(0, 1000).toString('latin1')
  if (firstLine.startsWith('From ') && !/^From[ \t]*:/.test(firstLine)) {
    const lf = message.indexOf(0x0a)
    message = lf === -1 ? Buffer.alloc(0) : message.subarray(lf + 1)
  }
  const section = findHeaderSection(message)
  let headerBlock = headerText(message, section)
  const recipients = [...request.recipients]
  if (request.fromHeaders) {
    recipients.push(...['to', 'cc', 'bcc'].flatMap((h) => addressesIn(headerBlock, h)))
    headerBlock = withoutBcc(headerBlock)
  }
  // -f '<>' is the null sender, as -f '' is.
  const given = request.sender === null ? null : request.sender.replace(/^<(.*)>$/, '$1')
  const sender = given ?? addressesIn(headerBlock, 'from')[0] ?? request.localSender

  const added: string[] = []
  if (readHeaders(headerBlock, 'from').length === 0) {
    added.push(`From: ${sender || request.localSender}\r\n`)
  }
  if (readHeaders(headerBlock, 'date').length === 0) {
    added.push(`Date: ${rfc5322Date(request.now)}\r\n`)
  }
  // A last header line without its line break, at the very end of the input.
  if (added.length > 0 && headerBlock !== '' && !headerBlock.endsWith('\n')) headerBlock += '\r\n'
  const raw = Buffer.concat([
    Buffer.from(headerBlock, 'latin1'), // the bytes as they came
    Buffer.from(added.join(''), 'utf8'), // addresses from the command line may be UTF-8
    // The body started without a blank line before it (or there were no headers at all).
    Buffer.from(section.endedBy === 'body' ? '\r\n' : ''),
    message.subarray(section.end),
  ])
  return { from: sender, to: [...new Set(recipients)], raw }
}
