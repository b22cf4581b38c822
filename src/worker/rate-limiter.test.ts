import { getEventListeners, setMaxListeners } from 'node:events'
import { describe, expect, it } from 'vitest'
import { createRateLimiter, takeToken, type TokenBucket } from './rate-limiter.js'

const limit = { count: 10, perMs: 1000 } // 10/s

describe('takeToken', () => {
  it('lets a full bucket burst, then spaces sends evenly', () => {
    let bucket: TokenBucket = { tokens: 10, updatedAt: 0 }
    const waits: number[] = []
    for (let i = 0; i < 13; i++) {
      const taken = takeToken(bucket, limit, 0)
      bucket = taken.bucket
      waits.push(taken.waitMs)
    }
    expect(waits.slice(0, 10)).toEqual(Array(10).fill(0))
    expect(waits.slice(10)).toEqual([100, 200, 300])
  })

  it('refills with time but never above one period of burst', () => {
    const empty = { tokens: 0, updatedAt: 0 }
    expect(takeToken(empty, limit, 50).waitMs).toBe(50)
    expect(takeToken(empty, limit, 100).waitMs).toBe(0)
    const idle = takeToken(empty, limit, 60_000).bucket
    expect(idle.tokens).toBe(9)
  })
})

describe('createRateLimiter', () => {
  it('leaves no abort listener on the stop signal once paced sends get their token', async () => {
    const limiter = createRateLimiter({ count: 100, perMs: 100 })
    const stopping = new AbortController()
    setMaxListeners(0, stopping.signal) // as the worker does: 150 wait at once by design
    const acquired = await Promise.all(
      Array.from({ length: 150 }, () => limiter.acquire(stopping.signal)),
    )
    expect(acquired.every(Boolean)).toBe(true)
    expect(getEventListeners(stopping.signal, 'abort')).toHaveLength(0)
  })
})
