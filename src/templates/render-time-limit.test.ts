import { describe, expect, it } from 'vitest'

import { createRenderTimeLimit } from './render-time-limit.js'

/** Clocks a test moves by hand. */
function handClocks() {
  const now = { wall: 0, cpu: 0 }
  return { now, clocks: { wall: () => now.wall, cpu: () => now.cpu } }
}

describe('createRenderTimeLimit', () => {
  it('lets a rendering the machine paused go on while it has CPU time left', () => {
    const { now, clocks } = handClocks()
    const limit = createRenderTimeLimit(1000, clocks)
    now.wall = 5000 // five seconds waiting for a core
    now.cpu = 10
    expect(() => limit.check(0)).not.toThrow()
    // 990 ms of CPU are left: the next reading of the CPU clock is due then.
    now.wall = 5900
    now.cpu = 2000 // would fail, but is not read before the new deadline
    expect(() => limit.check(0)).not.toThrow()
  })

  it('stops a rendering once it has spent its CPU time', () => {
    const { now, clocks } = handClocks()
    const limit = createRenderTimeLimit(1000, clocks)
    now.wall = 999
    now.cpu = 999
    expect(() => limit.check(0)).not.toThrow()
    now.wall = 1001
    now.cpu = 1001
    expect(() => limit.check(0)).toThrow('template render limit exceeded')
    expect(() => limit.use(1)).toThrow('template render limit exceeded')
  })

  it('counts from when it was made, on both clocks', () => {
    const { now, clocks } = handClocks()
    now.wall = 10_000
    now.cpu = 7_000
    const limit = createRenderTimeLimit(1000, clocks)
    now.wall = 11_500
    now.cpu = 7_600
    expect(() => limit.check(0)).not.toThrow()
    now.wall = 12_000
    now.cpu = 8_001
    expect(() => limit.check(0)).toThrow('template render limit exceeded')
  })
})
