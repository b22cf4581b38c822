import { describe, expect, it } from 'vitest'
import { findHeaderSection, headerText, readHeaders, traceFieldsEnd } from './header-section.js'

const section = (text: string) => findHeaderSection(Buffer.from(text, 'latin1'))

describe('findHeaderSection', () => {
  it.each([
    [
      'headers, blank line, body',
      'A: 1\r\nB: 2\r\n\r\nbody\r\n',
      { fields: 2, end: 12, endedBy: 'blank-line' },
    ],
    ['LF line endings', 'A: 1\nB: 2\n\nbody\n', { fields: 2, end: 10, endedBy: 'blank-line' }],
    ['folded header', 'A: 1\r\n\t2\r\n\r\n', { fields: 1, end: 10, endedBy: 'blank-line' }],
    [
      'blank before the colon (obsolete syntax)',
      'Subject : x\r\n\r\n',
      { fields: 1, end: 13, endedBy: 'blank-line' },
    ],
    ['no header block at all', 'hello body\r\nA: 1\r\n', { fields: 0, end: 0, endedBy: 'body' }],
    ['a continuation line first', ' A: 1\r\n\r\n', { fields: 0, end: 0, endedBy: 'body' }],
    ['body right after the headers', 'A: 1\r\nhello\r\n', { fields: 1, end: 6, endedBy: 'body' }],
    ['headers only', 'A: 1\r\nB: 2', { fields: 2, end: 10, endedBy: 'end' }],
    [
      'an mbox From line is no header',
      'From a@b Mon Dec  1 10:00:00 2026\n',
      { fields: 0, end: 0, endedBy: 'body' },
    ],
    ['empty input', '', { fields: 0, end: 0, endedBy: 'end' }],
  ])('%s', (_name, text, expected) => {
    expect(section(text)).toEqual(expected)
  })

  it('stops at the scan limit, saying so', () => {
    const raw = Buffer.from(`${'X-Long: 0123456789\r\n'.repeat(10)}\r\nbody`)
    expect(findHeaderSection(raw, 50)).toEqual({ fields: 3, end: 60, endedBy: 'limit' })
  })
})

describe('readHeaders', () => {
  it('reads every occurrence, unfolded, case-insensitively, and only from the header block', () => {
    const raw = Buffer.from('To: a@x\r\nSubject: s\r\nto: b@x,\r\n c@x\r\n\r\nTo: body@x\r\n')
    const block = headerText(raw, findHeaderSection(raw))
    expect(readHeaders(block, 'to')).toEqual(['a@x', 'b@x, c@x'])
    expect(readHeaders(block, 'cc')).toEqual([])
  })
})

describe('traceFieldsEnd', () => {
  const end = (text: string) => {
    const raw = Buffer.from(text, 'latin1')
    return traceFieldsEnd(raw, findHeaderSection(raw))
  }

  it.each([
    ['no trace fields', 'Subject: x\r\n\r\nbody\r\n', 0],
    [
      'a folded Received, then others',
      'Received: from a\r\n\tby b; date\r\nSubject: x\r\n\r\n',
      31,
    ],
    [
      'Return-Path and two Received',
      'Return-Path: <a@b>\r\nReceived: x\r\nreceived : y\r\nTo: c\r\n',
      47,
    ],
    ['only trace fields, then the body', 'Received: x\r\n\r\nbody\r\n', 13],
    ['a Received further down is not at the top', 'To: c\r\nReceived: x\r\n\r\n', 0],
  ])('%s', (_name, text, expected) => {
    expect(end(text)).toBe(expected)
  })
})
