// The bench's side of the SMTP sink process (sink.mjs): start it, reset its counters, wait for
// N arrivals, stop and resume its listening, and turn its times into this process's clock.
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { now, withTimeout } from './common.mjs'

const SINK = fileURLToPath(new URL('./sink.mjs', import.meta.url))

/** Starts the sink process; resolves once it listens, with its clock offset measured. */
export async function startSink() {
  const child = fork(SINK, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const pending = new Map()
  const arrivalListeners = new Set()
  let nextId = 1
  let exited = false

  child.on('message', (message) => {
    if (message.type === 'arrival') {
      for (const listener of arrivalListeners) listener(message)
      return
    }
    const request = pending.get(message.id)
    if (request) {
      pending.delete(message.id)
      request(message)
    }
  })
  child.on('exit', () => {
    exited = true
    for (const [id, request] of pending) {
      pending.delete(id)
      request({ type: 'exited' })
    }
  })

  const port = await withTimeout(
    new Promise((resolve, reject) => {
      child.once('message', (m) =>
        m.type === 'ready' ? resolve(m.port) : reject(new Error(m.message)),
      )
      child.once('exit', (code) => reject(new Error(`the sink exited with code ${code}`)))
    }),
    10_000,
    'the SMTP sink to start',
  )

  function ask(message, timeoutMs = 5_000) {
    if (exited) return Promise.reject(new Error('the sink process is gone'))
    const id = nextId++
    return withTimeout(
      new Promise((resolve) => {
        pending.set(id, resolve)
        child.send({ ...message, id })
      }),
      timeoutMs,
      `the sink to answer ${message.type}`,
    ).finally(() => pending.delete(id))
  }

  // Offset of the sink's clock from ours, from the ping with the shortest round trip.
  let offset = 0
  let bestRtt = Infinity
  for (let i = 0; i < 30; i++) {
    const t0 = now()
    const { t } = await ask({ type: 'ping' })
    const t1 = now()
    if (t1 - t0 < bestRtt) {
      bestRtt = t1 - t0
      offset = t - (t0 + t1) / 2
    }
  }

  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    /** Clock offset uncertainty (half the best ping round trip), ms. */
    clockUncertaintyMs: bestRtt / 2,
    /** Converts a sink timestamp to this process's clock. */
    toLocal: (t) => t - offset,
    /**
     * Zeroes the counters; `reportEach` makes the sink report every arrival, `replyDelayMs`
     * delays its answer to each message (as a distant provider would).
     */
    async reset({ reportEach = false, replyDelayMs = 0 } = {}) {
      await ask({ type: 'reset', reportEach, replyDelayMs })
    },
    /** `{ count, unique, connections, firstAt, lastAt, cpuMs }`; times on the sink's clock. */
    async status() {
      return ask({ type: 'status' })
    },
    /** Resolves with `{ count, firstAt, lastAt }` (our clock) once `count` messages arrived. */
    async waitFor(count, timeoutMs) {
      const answer = await ask({ type: 'wait', count, timeoutMs }, timeoutMs + 5_000)
      if (answer.type !== 'reached') {
        throw new Error(`the sink got ${answer.count} of ${count} messages within ${timeoutMs} ms`)
      }
      return {
        count: answer.count,
        firstAt: answer.firstAt - offset,
        lastAt: answer.lastAt - offset,
      }
    },
    /**
     * Stops listening and drops its connections (an upstream outage: connections are refused);
     * resolves with the moment it stopped, on our clock.
     */
    async pause() {
      const answer = await ask({ type: 'pause' })
      if (answer.type !== 'paused') throw new Error(`the sink could not pause: ${answer.message}`)
      return answer.t - offset
    },
    /** Listens again on the same port; resolves with the moment it listens, on our clock. */
    async resume() {
      const answer = await ask({ type: 'resume' })
      if (answer.type !== 'resumed') throw new Error(`the sink could not resume: ${answer.message}`)
      return answer.t - offset
    },
    /** Calls `listener({ messageId, t })` (t on our clock) for each arrival while reporting each. */
    onArrival(listener) {
      const wrapped = (m) => listener({ messageId: m.messageId, t: m.t - offset })
      arrivalListeners.add(wrapped)
      return () => arrivalListeners.delete(wrapped)
    },
    async stop() {
      if (exited) return
      const gone = new Promise((resolve) => child.once('exit', resolve))
      child.disconnect()
      await withTimeout(gone, 5_000, 'the sink to exit').catch(() => child.kill('SIGKILL'))
    },
  }
}
