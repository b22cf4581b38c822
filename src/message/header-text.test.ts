import { describe, expect, it } from 'vitest'
import { decodeHeaderText } from './header-text.js'

/** A header value as composeRaw reads it: one character per byte. */
const bytes = (text: string, encoding: BufferEncoding = 'utf8') =>
  Buffer.from(text, encoding).toString('latin1')

describe('decodeHeaderText', () => {
  it.each([
    ['ASCII', 'Hello', 'Hello'],
    ['Q-encoded UTF-8', '=?utf-8?q?caf=C3=A9?=', 'café'],
    ['B-encoded ISO-8859-1', '=?iso-8859-1?b?Y2Fm6Q==?=', 'café'],
    ['adjacent encoded words join', '=?UTF-8?Q?caf?= =?UTF-8?Q?=C3=A9?=', 'café'],
    ['mixed with plain words', 'Re: =?utf-8?q?caf=C3=A9?= ok', 'Re: café ok'],
    ['raw 8-bit UTF-8', bytes('Grüße 日本'), 'Grüße 日本'],
    ['raw 8-bit that is not UTF-8: Latin-1', bytes('caf\xe9 cr\xe8me', 'latin1'), 'café crème'],
    ['control characters become spaces', '=?utf-8?q?a=0D=0Ab=1B[31m?=', 'a  b [31m'],
    ['NFC, however it was composed', bytes('cafe\u0301'), 'café'],
  ])('%s', async (_name, value, expected) => {
    expect(await decodeHeaderText(value)).toBe(expected)
  })
})
