import { getEventListeners } from 'node:events'
import { describe, expect, it } from 'vitest'
import { silentLogger } from '../logger.js'
import {
  CLOSING_STREAK,
  createUpstreamHealth,
  DEFAULT_PROBE_POLICY,
  probeDelay,
  STEADY_PROBES,
} from './upstream-health.js'

describe('probeDelay', () => {
  it('probes every second for half a minute, then backs off to a minute', () => {
    const delays = Array.from({ length: 45 }, (_, n) => probeDelay(n, DEFAULT_PROBE_POLICY, 0.5))
    expect(delays.slice(0, STEADY_PROBES)).toEqual(Array(STEADY_PROBES).fill(1000))
    expect(delays.slice(STEADY_PROBES, STEADY_PROBES + 3)).toEqual([1500, 2250, 3375])
    expect(delays.at(-1)).toBe(60_000)
    for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThanOrEqual(delays[i - 1]!)
  })

  it('probes again within a few seconds of the end of a 10 s outage', () => {
    let t = 0
    const probes: number[] = []
    for (let n = 0; t < 20_000; n++) probes.push((t += probeDelay(n, DEFAULT_PROBE_POLICY, 0.999)))
    const firstAfter = probes.find((p) => p >= 10_000)!
    expect(firstAfter - 10_000).toBeLessThanOrEqual(1100)
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

describe('a 421 in a transaction', () => {
  const health = () =>
    createUpstreamHealth({
      probe: () => Promise.reject(new Error('still refusing')),
      logger: silentLogger,
      policy: { initialDelayMs: 60_000, maxDelayMs: 60_000 },
    })

  it('from one message, again and again, only defers that message', () => {
    const h = health()
    for (let i = 0; i < 10; i++) h.noteClosing('A', '421 try later')
    expect(h.isDown).toBe(false)
    h.close()
  })

  it(`from ${CLOSING_STREAK} messages in a row means the upstream is down`, () => {
    const h = health()
    h.noteClosing('A', '421 try later')
    h.noteClosing('B', '421 try later')
    expect(h.isDown).toBe(false)
    h.noteClosing('C', '421 try later')
    expect(h.isDown).toBe(true)
    expect(h.lastError).toMatch(/3 messages in a row were refused with 421/)
    h.close()
  })

  it('starts counting again after a delivery got through', () => {
    const h = health()
    h.noteClosing('A', '421')
    h.noteClosing('B', '421')
    h.markUp()
    h.noteClosing('C', '421')
    h.noteClosing('D', '421')
    expect(h.isDown).toBe(false)
    h.close()
  })
})

describe('a misconfigured upstream', () => {
  it('is logged as an error once, with its reason, however often it is seen', async () => {
    const errors: string[] = []
    const logger = {
      ...silentLogger,
      error: (_obj: object, msg?: string) => errors.push(msg ?? ''),
    }
    const reason = 'upstream misconfigured: expired (CERT_HAS_EXPIRED). Renew it.'
    let probes = 0
    const h = createUpstreamHealth({
      probe: () => {
        probes++
        return Promise.reject(Object.assign(new Error('certificate has expired'), { code: 'X' }))
      },
      diagnose: () => ({ reason, misconfigured: true }),
      logger,
      policy: { initialDelayMs: 1, maxDelayMs: 1 },
    })
    h.markDown(reason, true)
    h.markDown(reason, true)
    const deadline = Date.now() + 10_000
    while (probes < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
    expect(probes).toBeGreaterThanOrEqual(5)
    expect(h.isDown).toBe(true)
    expect(h.misconfigured).toBe(true)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toContain(reason)
    expect(errors[0]).toMatch(/paused until this is fixed/)
    h.close()
  })
})
