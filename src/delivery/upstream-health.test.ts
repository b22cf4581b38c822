import { getEventListeners } from 'node:events'
import { describe, expect, it } from 'vitest'
import { silentLogger } from '../logger.js'
import { createUpstreamHealth, DEFAULT_PROBE_POLICY, probeDelay } from './upstream-health.js'

describe('probeDelay', () => {
  it('starts at a second and backs off to a minute', () => {
    const delays = Array.from({ length: 15 }, (_, n) => probeDelay(n, DEFAULT_PROBE_POLICY, 0.5))
    expect(delays.slice(0, 4)).toEqual([1000, 1500, 2250, 3375])
    expect(delays.at(-1)).toBe(60_000)
    for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThanOrEqual(delays[i - 1]!)
  })

  it('probes again within a few seconds of the end of a 10 s outage', () => {
    let t = 0
    const probes: number[] = []
    for (let n = 0; t < 20_000; n++) probes.push((t += probeDelay(n, DEFAULT_PROBE_POLICY, 0.999)))
    const firstAfter = probes.find((p) => p >= 10_000)!
    expect(firstAfter - 10_000).toBeLessThan(6000)
  })

  it('jitters by at most 10 %', () => {
    expect(probeDelay(0, DEFAULT_PROBE_POLICY, 0)).toBe(900)
    expect(probeDelay(0, DEFAULT_PROBE_POLICY, 0.999)).toBeLessThanOrEqual(1100)
  })
})

describe('whenUp', () => {
  it('leaves no abort listener behind after many outages waited out with one signal', async () => {
    const health = createUpstreamHealth({
      probe: async () => {},
      logger: silentLogger,
      policy: { initialDelayMs: 1, maxDelayMs: 1 },
    })
    const stopping = new AbortController()
    for (let i = 0; i < 30; i++) {
      health.markDown('connection refused')
      expect(health.isDown).toBe(true)
      await health.whenUp(stopping.signal)
      expect(health.isDown).toBe(false)
      health.markUp()
    }
    expect(getEventListeners(stopping.signal, 'abort')).toHaveLength(0)
    health.close()
  })

  it('forgets a wait ended by its signal', async () => {
    const health = createUpstreamHealth({
      probe: () => Promise.reject(new Error('still down')),
      logger: silentLogger,
      policy: { initialDelayMs: 60_000, maxDelayMs: 60_000 },
    })
    health.markDown('connection refused')
    for (let i = 0; i < 20; i++) {
      const wait = new AbortController()
      const waiting = health.whenUp(wait.signal)
      wait.abort()
      await waiting
      expect(getEventListeners(wait.signal, 'abort')).toHaveLength(0)
    }
    health.close()
  })
})
