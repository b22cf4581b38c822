import { describe, expect, it } from 'vitest'
import { printable } from './terminal.js'

describe('printable', () => {
  it.each([
    ['\u001b[2J\u001b]0;pwned\u0007', '\\x1b[2J\\x1b]0;pwned\\x07'],
    ['tab\there', 'tab\\x09here'],
    ['line\r\nbreak', 'line\\x0d\\x0abreak'],
    ['del\u007f c1\u009b', 'del\\x7f c1\\x9b'],
    ['bidi \u202egnp.exe', 'bidi \\u202egnp.exe'],
    ['café ✓ 日本', 'café ✓ 日本'],
  ])('shows %j as %j', (input, shown) => {
    expect(printable(input)).toBe(shown)
  })

  it('keeps the characters it is told to', () => {
    expect(printable('a\nb\u001b', '\n')).toBe('a\nb\\x1b')
  })
})
