// The bench's side of worker-process.mjs: start a worker process, read its counts and memory,
// stop it. Every wait is bounded; a worker that does not stop in time is killed.
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { withTimeout } from './common.mjs'

const WORKER = fileURLToPath(new URL('./worker-process.mjs', import.meta.url))

/**
 * Starts a worker process; resolves once it is ready (delivering, for worker-process.mjs), with
 * its first status. `script` is another worker program speaking the same messages (the
 * shaping section's, which starts delivering only when told: `start()`).
 */
export async function startWorkerProcess(options, { script = WORKER } = {}) {
  const child = fork(script, [JSON.stringify(options)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // e.g. OUTBOX_BENCH_WORKER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the
    // worker processes (Node refuses --cpu-prof in NODE_OPTIONS).
    execArgv: (process.env.OUTBOX_BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean),
  })
  const pending = new Map()
  let nextId = 1
  child.on('message', (message) => {
    const request = pending.get(message.id)
    if (request) {
      pending.delete(message.id)
      request(message)
    }
  })
  const exited = new Promise((resolve) => child.once('exit', resolve))

  const ready = await withTimeout(
    new Promise((resolve, reject) => {
      child.once('message', (m) =>
        m.type === 'ready' ? resolve(m) : reject(new Error(String(m.type))),
      )
      child.once('exit', (code) => reject(new Error(`the worker process exited with code ${code}`)))
    }),
    30_000,
    'a worker process to start',
  ).catch((error) => {
    child.kill('SIGKILL')
    throw error
  })

  function ask(type, timeoutMs) {
    const id = nextId++
    return withTimeout(
      new Promise((resolve) => {
        pending.set(id, resolve)
        child.send({ type, id })
      }),
      timeoutMs,
      `the worker process to answer ${type}`,
    ).finally(() => pending.delete(id))
  }

  return {
    pid: child.pid,
    ready,
    /** For a script that waits to be told: starts delivering; resolves with `{ t, cpuMs }`. */
    async start() {
      const answer = await ask('start', 30_000)
      if (answer.type !== 'started') throw new Error(`the worker did not start: ${answer.message}`)
      return answer
    },
    /** `{ counts, rss, heapUsed, peakRss, cpuMs, smtp }` (`smtp`: the listener's address, if any) */
    status: () => ask('status', 10_000),
    /** Stops it cleanly (SIGKILL after 40 s); resolves with its last status. */
    async stop() {
      try {
        const last = await ask('stop', 40_000)
        await withTimeout(exited, 5_000, 'the worker process to exit')
        return last
      } catch (error) {
        child.kill('SIGKILL')
        await exited
        throw error
      }
    },
    /** SIGKILL; resolves once the process is gone (or after 5 s: it never rejects). */
    kill() {
      child.kill('SIGKILL')
      return withTimeout(exited, 5_000, 'the killed worker process to exit').catch(() => undefined)
    },
  }
}
