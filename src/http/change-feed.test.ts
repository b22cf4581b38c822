import { describe, expect, it } from 'vitest'
import { silentLogger } from '../logger.js'
import type { Outbox } from '../outbox.js'
import type { EventStreamOptions } from '../event-log/follow-events.js'
import type { StoredEvent } from '../store/store.js'
import { createChangeFeed } from './change-feed.js'

/** An Outbox whose log is a queue the test pushes to; records each follower it starts. */
function fakeOutbox(options: { failing?: boolean } = {}) {
  const followers: { signal: AbortSignal; push(): void }[] = []
  const observers = new Set<() => void>()
  const outbox = {
    events(opts: EventStreamOptions = {}) {
      const signal = opts.signal!
      let wake: (() => void) | null = null
      let queued = 0
      followers.push({
        signal,
        push() {
          queued++
          wake?.()
        },
      })
      signal.addEventListener('abort', () => wake?.())
      return (async function* () {
        if (options.failing) throw new Error('no event log here')
        while (!signal.aborted) {
          if (queued === 0) await new Promise<void>((resolve) => (wake = resolve))
          if (signal.aborted) return
          queued--
          yield { type: 'sent' } as StoredEvent
        }
      })()
    },
    observe(listener: () => void) {
      observers.add(listener)
      return () => observers.delete(listener)
    },
  } as unknown as Outbox
  return { outbox, followers, observers }
}

const options = { throttleMs: 20, pollMs: 10, retryMs: 30, logger: silentLogger }
const until = async (check: () => boolean) => {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 5))
  expect(check()).toBe(true)
}

describe('the shared change feed', () => {
  it('runs one follower for all subscribers, only while someone listens', async () => {
    const { outbox, followers } = fakeOutbox()
    const feed = createChangeFeed(outbox, options)
    const calls = [0, 0, 0]
    const unsubscribe = calls.map((_, i) => feed.subscribe(() => calls[i]!++))
    expect(followers).toHaveLength(1)
    // A burst of changes is one notification to each.
    followers[0]!.push()
    followers[0]!.push()
    followers[0]!.push()
    await until(() => calls.every((n) => n === 1))
    for (const u of unsubscribe) u()
    expect(followers[0]!.signal.aborted).toBe(true)
    feed.subscribe(() => {})
    expect(followers).toHaveLength(2)
    await feed.close()
    expect(followers[1]!.signal.aborted).toBe(true)
    feed.subscribe(() => {})
    expect(followers).toHaveLength(2)
  })

  it('falls back to this process’s own changes while the log cannot be read', async () => {
    const { outbox, followers, observers } = fakeOutbox({ failing: true })
    const feed = createChangeFeed(outbox, options)
    let calls = 0
    feed.subscribe(() => calls++)
    await until(() => observers.size === 1)
    for (const listener of observers) listener()
    await until(() => calls === 1)
    // And tries the log again.
    await until(() => followers.length >= 2)
    await feed.close()
    expect(observers.size).toBe(0)
  })
})
