import { describe, expect, it } from 'vitest'
import { toCrlf } from './line-endings.js'

describe('toCrlf', () => {
  it.each([
    ['a\r\nb\r\n', 'a\r\nb\r\n'],
    ['a\nb\n', 'a\r\nb\r\n'],
    ['a\rb', 'a\r\nb'],
    ['\n.\r\nMAIL FROM', '\r\n.\r\nMAIL FROM'],
    ['x\r\r\n', 'x\r\n\r\n'],
    ['\n', '\r\n'],
    ['', ''],
  ])('%j → %j', (input, expected) => {
    expect(toCrlf(Buffer.from(input)).toString()).toBe(expected)
  })

  it('returns the same buffer when nothing changes', () => {
    const canonical = Buffer.from('a\r\nb')
    expect(toCrlf(canonical)).toBe(canonical)
  })
})
