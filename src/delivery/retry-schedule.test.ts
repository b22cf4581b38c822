import { describe, expect, it } from 'vitest'
import { DEFAULT_RETRY_POLICY, retryDelay } from './retry-schedule.js'

describe('retryDelay', () => {
  it.each([
    [0, 30_000],
    [1, 60_000],
    [2, 120_000],
    [5, 960_000],
    [6, 1_800_000],
    [20, 1_800_000],
    [10_000, 1_800_000],
  ])('after %d failures waits %d ms without jitter', (failures, expected) => {
    expect(retryDelay(failures, DEFAULT_RETRY_POLICY, 0)).toBe(expected)
  })

  it('jitter shortens a delay by at most its fraction', () => {
    expect(retryDelay(0, DEFAULT_RETRY_POLICY, 0.999)).toBeGreaterThan(24_000)
    expect(retryDelay(0, DEFAULT_RETRY_POLICY, 0.5)).toBe(27_000)
  })

  it('spreads messages that failed together', () => {
    const delays = new Set(
      [0.1, 0.3, 0.5, 0.7, 0.9].map((r) => retryDelay(3, DEFAULT_RETRY_POLICY, r)),
    )
    expect(delays.size).toBe(5)
  })
})
