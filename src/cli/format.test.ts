import { describe, expect, it } from 'vitest'
import { age, relativeTime, table, truncate } from './format.js'

describe('CLI formatting', () => {
  const now = Date.UTC(2026, 10, 23, 12, 0, 0)
  it.each([
    [now - 300_000, '5m ago'],
    [now + 7_200_000, 'in 2h'],
    [now + 400, 'now'],
  ])('relativeTime(%d) = %s', (t, text) => expect(relativeTime(new Date(t), now)).toBe(text))

  it('shows ages and dashes', () => {
    expect(age(new Date(now - 90_000), now)).toBe('1m30s')
    expect(relativeTime(null, now)).toBe('-')
  })

  it('aligns columns', () => {
    expect(
      table(
        ['ID', 'STATUS', 'SUBJECT'],
        [
          ['1', 'queued', 'Hi'],
          ['22', 'sent', 'Hello there'],
        ],
      ),
    ).toBe('ID  STATUS  SUBJECT\n1   queued  Hi\n22  sent    Hello there')
  })

  it('truncates with an ellipsis', () => {
    expect(truncate('Hello there', 6)).toBe('Hello…')
    expect(truncate('Hi', 6)).toBe('Hi')
  })
})
