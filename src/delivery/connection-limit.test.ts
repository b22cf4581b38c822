import { describe, expect, it } from 'vitest'
import { createConnectionLimit, GROW_DELAY_MS, MAX_GROW_DELAY_MS } from './connection-limit.js'

describe('createConnectionLimit', () => {
  it('starts at the configured most and never grows past it', () => {
    const limit = createConnectionLimit(10)
    expect(limit.current).toBe(10)
    expect(limit.tryGrow(0)).toBe(false)
  })

  it('drops to the connections open when one more is refused, however many were opening', () => {
    const limit = createConnectionLimit(10)
    // Ten opened at once against a server that takes two: refusals come in one by one.
    expect(limit.refused(9, 0, false).limit).toBe(9)
    expect(limit.refused(5, 0, false).limit).toBe(5)
    expect(limit.refused(2, 0, false).limit).toBe(2)
    // A late refusal counted against fewer open connections still keeps at least one.
    expect(limit.refused(0, 0, false).limit).toBe(1)
  })

  it('a refusal never raises the limit', () => {
    const limit = createConnectionLimit(10)
    limit.refused(2, 0, false)
    expect(limit.refused(7, 0, false).limit).toBe(2)
  })

  it('tries one more a minute later, keeps it if it opens, and then tries the next', () => {
    const limit = createConnectionLimit(10)
    const { retryAt } = limit.refused(2, 1000, false)
    expect(retryAt).toBe(1000 + GROW_DELAY_MS)
    expect(limit.tryGrow(retryAt - 1)).toBe(false)
    expect(limit.tryGrow(retryAt)).toBe(true)
    expect(limit.current).toBe(3)
    // One try at a time.
    expect(limit.tryGrow(retryAt)).toBe(false)
    limit.opened(retryAt + 10, true)
    expect(limit.current).toBe(3)
    expect(limit.tryGrow(retryAt + 10)).toBe(false)
    expect(limit.tryGrow(retryAt + 10 + GROW_DELAY_MS)).toBe(true)
    expect(limit.current).toBe(4)
  })

  it('a try to grow that fails for another reason is undone', () => {
    const limit = createConnectionLimit(10)
    const { retryAt } = limit.refused(2, 0, false)
    expect(limit.tryGrow(retryAt)).toBe(true)
    limit.failed(true)
    expect(limit.current).toBe(2)
    expect(limit.tryGrow(retryAt)).toBe(true)
    // Other connections' outcomes leave a try in progress alone.
    limit.failed(false)
    limit.opened(retryAt, false)
    expect(limit.current).toBe(3)
    expect(limit.tryGrow(retryAt + GROW_DELAY_MS)).toBe(false)
    limit.opened(retryAt, true)
    expect(limit.current).toBe(3)
  })

  it('waits twice as long after each refused try, up to half an hour', () => {
    const limit = createConnectionLimit(10)
    let { retryAt } = limit.refused(2, 0, false)
    const waits: number[] = []
    for (let i = 0; i < 8; i++) {
      expect(limit.tryGrow(retryAt)).toBe(true)
      const next = limit.refused(2, retryAt, true)
      expect(next.limit).toBe(2)
      waits.push(next.retryAt - retryAt)
      retryAt = next.retryAt
    }
    expect(waits.slice(0, 3)).toEqual([2, 4, 8].map((k) => k * GROW_DELAY_MS))
    expect(waits.at(-1)).toBe(MAX_GROW_DELAY_MS)
  })
})
