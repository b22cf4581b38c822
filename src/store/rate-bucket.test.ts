import { describe, expect, it } from 'vitest'
import {
  MIN_RATE_PER_SEC,
  MIN_RATE_SHARE,
  RECOVERY_SHARE,
  THROTTLE_WINDOW_MS,
  adjustBucketRate,
  currentRate,
  takeFromBuckets,
  type BucketRow,
} from './rate-bucket.js'
import type { RateBucketRef, TokenGrant } from './store.js'

const T0 = 1_700_000_000_000

/** Asks `times` times at `now`, each seeing the rows the one before left, as a store does. */
function askMany(
  buckets: RateBucketRef[],
  start: (BucketRow | null)[],
  times: number,
  maxWaitMs: number,
  now: number,
): { grants: TokenGrant[]; rows: (BucketRow | null)[] } {
  let rows = start
  const grants: TokenGrant[] = []
  for (let i = 0; i < times; i++) {
    const result = takeFromBuckets(buckets, rows, maxWaitMs, now)
    grants.push(result.grant)
    rows = result.rows
  }
  return { grants, rows }
}

describe('token buckets', () => {
  const five = { key: 'upstream:main', ratePerSec: 5 }

  it('holds one second of tokens: a fresh bucket grants its rate at once, then nothing free', () => {
    const { grants, rows } = askMany([five], [null], 6, 0, T0)
    expect(grants.slice(0, 5)).toEqual(
      Array.from({ length: 5 }, () => ({ granted: true, waitMs: 0, rates: [5] })),
    )
    expect(grants[5]).toEqual({ granted: false, waitMs: 200, rates: [5] })
    expect(rows[0]!.tokens).toBeCloseTo(0, 9)
  })

  it('never saves up more than one second of tokens, however long it idled', () => {
    const idle: BucketRow = {
      tokens: 0,
      updatedAt: T0 - 3_600_000,
      rate: 5,
      throttledAt: null,
      scheduledUntil: null,
    }
    const { grants } = askMany([five], [idle], 6, 0, T0)
    expect(grants.filter((g) => g.granted)).toHaveLength(5)
  })

  it('holds at least one token for a rate below one a second, and spaces them at the rate', () => {
    const perMinute = { key: 'domain:slow.example', ratePerSec: 1 / 60 }
    const { grants } = askMany([perMinute], [null], 2, 0, T0)
    expect(grants[0]!.granted).toBe(true)
    expect(grants[1]).toMatchObject({ granted: false, waitMs: 60_000 })
  })

  it('refills at the rate as time passes', () => {
    const { rows } = askMany([five], [null], 5, 0, T0)
    expect(takeFromBuckets([five], rows, 0, T0 + 199).grant.granted).toBe(false)
    expect(takeFromBuckets([five], rows, 0, T0 + 200).grant).toEqual({
      granted: true,
      waitMs: 0,
      rates: [5],
    })
  })

  it('reserves tokens ahead within maxWaitMs: each asker gets the next slot', () => {
    const { grants, rows } = askMany([five], [null], 10, 1000, T0)
    expect(grants.map((g) => [g.granted, g.waitMs])).toEqual([
      [true, 0],
      [true, 0],
      [true, 0],
      [true, 0],
      [true, 0],
      [true, 200],
      [true, 400],
      [true, 600],
      [true, 800],
      [true, 1000],
    ])
    expect(rows[0]!.tokens).toBeCloseTo(-5, 9)
    // Beyond the wait nothing is taken.
    const refused = takeFromBuckets([five], rows, 1000, T0)
    expect(refused.grant).toMatchObject({ granted: false, waitMs: 1200 })
    expect(refused.rows[0]!.tokens).toBeCloseTo(-5, 9)
  })

  it('hands refused askers turns spaced at the rate, one after another', () => {
    const { rows } = askMany([five], [null], 5, 0, T0)
    const { grants, rows: after } = askMany([five], rows, 3, 0, T0)
    expect(grants.map((g) => [g.granted, g.waitMs])).toEqual([
      [false, 200],
      [false, 400],
      [false, 600],
    ])
    expect(after[0]!.scheduledUntil).toBe(T0 + 600)
    // A turn handed out in the past no longer counts.
    const later = takeFromBuckets([five], after, 0, T0 + 10_000)
    expect(later.grant.granted).toBe(true)
  })

  it('takes from every bucket of a request or from none', () => {
    const slow = { key: 'domain:slow.example', ratePerSec: 1 }
    const first = takeFromBuckets([slow, five], [null, null], 0, T0)
    expect(first.grant).toEqual({ granted: true, waitMs: 0, rates: [1, 5] })
    const second = takeFromBuckets([slow, five], first.rows, 0, T0)
    expect(second.grant).toMatchObject({ granted: false, waitMs: 1000 })
    // The fast bucket kept its four tokens.
    expect(second.rows[1]!.tokens).toBeCloseTo(4, 9)
    expect(second.rows[0]!.tokens).toBeCloseTo(0, 9)
  })

  it('runs at the stored rate, never above the configured one', () => {
    const row = (rate: number | null): BucketRow => ({
      tokens: 1,
      updatedAt: T0,
      rate,
      throttledAt: null,
      scheduledUntil: null,
    })
    expect(currentRate(null, 10)).toBe(10)
    expect(currentRate(row(null), 10)).toBe(10)
    expect(currentRate(row(4), 10)).toBe(4)
    expect(currentRate(row(40), 10)).toBe(10)
  })
})

describe('adaptive throttling', () => {
  it('halves on a throttling reply, once per window', () => {
    const halved = adjustBucketRate(null, 10, true, T0)
    expect(halved).toMatchObject({ rate: 5, throttledAt: T0 })
    // What was saved up at the old rate is not spent at once: the bucket holds a second at 5/s.
    expect(halved.tokens).toBe(5)
    const sameBurst = adjustBucketRate(halved, 10, true, T0 + THROTTLE_WINDOW_MS - 1)
    expect(sameBurst).toMatchObject({ rate: 5, throttledAt: T0 })
    const nextBurst = adjustBucketRate(sameBurst, 10, true, T0 + THROTTLE_WINDOW_MS)
    expect(nextBurst).toMatchObject({ rate: 2.5, throttledAt: T0 + THROTTLE_WINDOW_MS })
  })

  it('stops halving at a floor: a share of the configured rate, and one a minute', () => {
    let row: BucketRow | null = null
    for (let i = 0; i < 20; i++) row = adjustBucketRate(row, 64, true, T0 + i * THROTTLE_WINDOW_MS)
    expect(row!.rate).toBeCloseTo(64 * MIN_RATE_SHARE, 9)
    let slow: BucketRow | null = null
    for (let i = 0; i < 20; i++) slow = adjustBucketRate(slow, 1, true, T0 + i * THROTTLE_WINDOW_MS)
    expect(slow!.rate).toBeCloseTo(MIN_RATE_PER_SEC, 9)
  })

  it('raises the rate back by a share of the configured one per accepted delivery, up to it', () => {
    const halved = adjustBucketRate(null, 10, true, T0)
    const once = adjustBucketRate(halved, 10, false, T0 + 1)
    expect(once.rate).toBeCloseTo(5 + 10 * RECOVERY_SHARE, 9)
    expect(once.throttledAt).toBe(T0)
    let row = once
    for (let i = 0; i < 100; i++) row = adjustBucketRate(row, 10, false, T0 + 2 + i)
    expect(row.rate).toBe(10)
    // A throttled bucket's grants report its lower rate.
    expect(takeFromBuckets([{ key: 'k', ratePerSec: 10 }], [halved], 0, T0).grant.rates).toEqual([
      5,
    ])
  })
})
