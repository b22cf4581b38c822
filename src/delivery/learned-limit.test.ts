import { describe, expect, it } from 'vitest'
import { createLearnedLimit, FORGET_AFTER_MS, WINDOW_S } from './learned-limit.js'

describe('a rate limit learned from "slow down" replies', () => {
  it('takes the rate of the last seconds as its ceiling, keeps it while throttled, forgets it after', () => {
    const limit = createLearnedLimit()
    const t0 = 1_000_000_000
    expect(limit.current(t0)).toBeNull()
    // 300 sends over the last 10 s: 30/s.
    for (let i = 0; i < 300; i++) limit.noteSent(t0 + Math.floor((i * WINDOW_S * 1000) / 300))
    const at = t0 + WINDOW_S * 1000 - 1
    expect(limit.learn(at)).toBeCloseTo(30, 0)
    // A second throttle does not re-learn from the (now lower) rate.
    expect(limit.learn(at + 5000)).toBeCloseTo(30, 0)
    expect(limit.current(at + 5000 + FORGET_AFTER_MS - 1)).toBeCloseTo(30, 0)
    expect(limit.current(at + 5000 + FORGET_AFTER_MS + 1)).toBeNull()
  })

  it('measures a burst over the seconds it lasted', () => {
    const limit = createLearnedLimit()
    const t0 = 3_000_000_000
    for (let i = 0; i < 60; i++) limit.noteSent(t0 + i * 5)
    expect(limit.learn(t0 + 400)).toBe(60)
  })

  it('never learns less than one a second, and old sends fall out of the window', () => {
    const limit = createLearnedLimit()
    const t0 = 2_000_000_000
    for (let i = 0; i < 100; i++) limit.noteSent(t0)
    expect(limit.learn(t0 + 60_000)).toBe(1)
  })
})
