import { getEventListeners } from 'node:events'
import { describe, expect, it } from 'vitest'
import { delay } from './waker.js'

describe('delay', () => {
  it('takes its abort listener away when the time is up', async () => {
    const stopping = new AbortController()
    for (let i = 0; i < 20; i++) await delay(1, stopping.signal)
    expect(getEventListeners(stopping.signal, 'abort')).toHaveLength(0)
  })

  it('ends at once when the signal aborts', async () => {
    const stopping = new AbortController()
    const started = Date.now()
    const waiting = delay(60_000, stopping.signal)
    stopping.abort()
    await waiting
    expect(Date.now() - started).toBeLessThan(1000)
  })
})
