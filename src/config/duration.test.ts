import { describe, expect, it } from 'vitest'
import { formatDuration, parseDuration } from './duration.js'

describe('parseDuration', () => {
  it.each([
    [1500, 1500],
    ['1500', 1500],
    ['250ms', 250],
    ['30s', 30_000],
    ['1.5s', 1500],
    ['15m', 900_000],
    ['24h', 86_400_000],
    ['7d', 604_800_000],
    [' 2 m ', 120_000],
  ])('%j is %d ms', (input, expected) => {
    expect(parseDuration(input)).toBe(expected)
  })

  it.each([['-1'], ['ten minutes'], ['5w'], [''], [-5], [Number.NaN], [Infinity]])(
    'rejects %j',
    (input) => {
      expect(parseDuration(input)).toBeUndefined()
    },
  )
})

describe('formatDuration', () => {
  it.each([
    [250, '250ms'],
    [1500, '1.5s'],
    [90_000, '1m30s'],
    [5_400_000, '1h30m'],
    [90_000_000, '1d1h'],
  ])('%d ms is %s', (ms, expected) => {
    expect(formatDuration(ms)).toBe(expected)
  })
})
