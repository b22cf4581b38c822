import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/** The bounce and complaint fixtures in `test/fixtures/bounces/` (see its README). */
export type BounceFixtureName =
  | 'postfix-failed'
  | 'postfix-delayed'
  | 'gmail-failed'
  | 'exim-failed'
  | 'sendmail-two-recipients'
  | 'arf-abuse'
  | 'auto-reply'

/** What a test fills into a fixture's placeholders. */
export interface BounceFixtureValues {
  /** `{{RETURN_PATH}}`: the original's envelope sender, e.g. a VERP address, without brackets. */
  returnPath: string
  /** `{{RECIPIENT}}`: the recipient that bounced (or complained), without brackets. */
  recipient: string
  /** `{{MESSAGE_ID}}`: the original's Message-ID header, with angle brackets (as `send()` returns it). */
  messageId: string
}

const FOLDER = join(import.meta.dirname, '..', 'fixtures', 'bounces')

/**
 * A fixture with its placeholders filled in, with CRLF line endings as SMTP carries them
 * (the files are kept with LF line endings in the repository).
 */
export function bounceFixture(name: BounceFixtureName, values: BounceFixtureValues): Buffer {
  const text = readFileSync(join(FOLDER, `${name}.eml`), 'utf8')
    .replaceAll('{{RETURN_PATH}}', values.returnPath)
    .replaceAll('{{RECIPIENT}}', values.recipient)
    .replaceAll('{{MESSAGE_ID}}', values.messageId)
  const left = /\{\{[A-Z_]+\}\}/.exec(text)
  if (left)
    throw new Error(`fixture ${name} has a placeholder bounceFixture does not fill: ${left[0]}`)
  return Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'utf8')
}
