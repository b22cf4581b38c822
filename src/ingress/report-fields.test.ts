import { describe, expect, it } from 'vitest'
import { parseFieldBlocks, parseHeaderSection, typedValue } from './report-fields.js'

describe('parseFieldBlocks', () => {
  it('splits at blank lines, unfolds continuation lines and skips lines that are not fields', () => {
    const text =
      'Reporting-MTA: dns; a.test\r\n\r\n  \r\nFinal-Recipient: rfc822; x@y\nDiagnostic-Code: smtp; 550 5.1.1 a\n    b\n\tc\nnot a field\nAction:failed\n'
    expect(parseFieldBlocks(text)).toEqual([
      [{ name: 'reporting-mta', value: 'dns; a.test' }],
      [
        { name: 'final-recipient', value: 'rfc822; x@y' },
        { name: 'diagnostic-code', value: 'smtp; 550 5.1.1 a b c' },
        { name: 'action', value: 'failed' },
      ],
    ])
  })

  it('reads a header section up to its first blank line', () => {
    expect(parseHeaderSection('\r\nMessage-ID: <a@b>\r\n\r\nBody: not a header\r\n')).toEqual([
      { name: 'message-id', value: '<a@b>' },
    ])
  })
})

describe('typedValue', () => {
  it.each([
    ['rfc822; x@y', 'x@y'],
    ['RFC822; <x@y>', 'x@y'],
    ['rfc822;x@y', 'x@y'],
    ['dns; mx.test. (192.0.2.1, the server for the domain test.)', 'mx.test.'],
    ['<x@y>', 'x@y'],
    ['<>', null],
    ['rfc822;', null],
  ])('%j → %j', (value, expected) => {
    expect(typedValue(value)).toBe(expected)
  })
})
