// 3. End-to-end latency on an idle queue: from send() resolving until the sink has the message,
// one message at a time. The worker runs in this process (as with `outbox start` and an app
// sending through it), or in another process (an app next to `outbox worker`).
import { createOutbox } from '../dist/index.js'
import {
  mail,
  now,
  percentile,
  progress,
  repeat,
  sleep,
  summarize,
  withTimeout,
} from './common.mjs'
import { startWorkerProcess } from './worker-client.mjs'

/**
 * Sends `count` messages one by one; each waits for the previous to arrive. Latencies in ms.
 * With `budgetMs`, stops sending once that long has passed (after 20 messages at least).
 */
async function measure({ outbox, sink, count, settle, budgetMs = Infinity }) {
  const started = Date.now()
  const arrivals = new Map()
  const waiting = new Map()
  const unsubscribe = sink.onArrival(({ messageId, t }) => {
    const resolve = waiting.get(messageId)
    if (resolve) resolve(t)
    else arrivals.set(messageId, t)
  })
  try {
    const latencies = []
    const fromCall = []
    for (let i = 0; i < count; i++) {
      if (i >= 20 && Date.now() - started > budgetMs) break
      let sentAt = 0
      const calledAt = now()
      // Stamped the moment send() resolves, before anything else queued behind it runs.
      const result = await outbox.send(mail(i)).then((r) => {
        sentAt = now()
        return r
      })
      const arrivedAt =
        arrivals.get(result.messageId) ??
        (await withTimeout(
          new Promise((resolve) => waiting.set(result.messageId, resolve)),
          10_000,
          `message ${i} to reach the sink`,
        ))
      waiting.delete(result.messageId)
      arrivals.delete(result.messageId)
      latencies.push(arrivedAt - sentAt)
      fromCall.push(arrivedAt - calledAt)
      // Let the worker record the delivery and go idle again before the next message.
      await settle(i + 1)
    }
    return { latencies, fromCall }
  } finally {
    unsubscribe()
  }
}

/**
 * Both placements of the worker for one backend. `otherProcessBudgetMs` (optional) bounds each
 * other-process run: a backend whose wake-up crosses processes by polling (MariaDB) can take
 * a second per message, and 1,000 of them would take the run's whole time.
 */
export async function benchLatency({
  kind,
  url,
  sink,
  count,
  repeats,
  otherProcessBudgetMs = Infinity,
}) {
  const results = {}

  // The worker in this process.
  {
    const outbox = await createOutbox({ store: await url(), upstream: sink.url, concurrency: 10 })
    const worker = outbox.worker()
    await worker.start()
    try {
      await sink.reset({ reportEach: true })
      const warmup = 20
      const settle = async (n) => {
        const deadline = Date.now() + 5_000
        while (worker.counts.sent < n + warmup && Date.now() < deadline) await sleep(1)
        await sleep(2)
      }
      // Warm up: open the pool's connections and compile the code paths.
      await measure({ outbox, sink, count: warmup, settle: () => sleep(2) })
      let done = 0
      const runs = await repeat(repeats, async (run) => {
        const measured = await measure({
          outbox,
          sink,
          count,
          settle: (n) => settle(done + n),
        })
        done += count
        progress(
          `latency ${kind} in-process run ${run + 1}: p50 ${percentile(measured.latencies, 50).toFixed(2)} ms`,
        )
        return measured
      })
      results.inProcess = summarizeLatency(runs)
    } finally {
      await outbox.close()
    }
  }

  // The worker in another process: the wake-up crosses processes (SQLite: the WAL is watched;
  // PostgreSQL: LISTEN/NOTIFY).
  {
    const store = await url()
    const worker = await startWorkerProcess({ store, upstream: sink.url, concurrency: 10 })
    const outbox = await createOutbox({ store, upstream: 'capture' })
    try {
      await sink.reset({ reportEach: true })
      await measure({ outbox, sink, count: 20, settle: () => sleep(5) })
      const runs = await repeat(repeats, async (run) => {
        const measured = await measure({
          outbox,
          sink,
          count,
          settle: () => sleep(5),
          budgetMs: otherProcessBudgetMs,
        })
        progress(
          `latency ${kind} other-process run ${run + 1}: p50 ${percentile(measured.latencies, 50).toFixed(2)} ms` +
            (measured.latencies.length < count
              ? ` (${measured.latencies.length} messages, the run's ${otherProcessBudgetMs / 1000} s budget)`
              : ''),
        )
        return measured
      })
      results.otherProcess = summarizeLatency(runs)
    } finally {
      await outbox.close()
      await worker.stop()
    }
  }
  results.messagesPerRun = count
  results.clockUncertaintyMs = sink.clockUncertaintyMs
  return results
}

function summarizeLatency(runs) {
  return {
    messages: summarize(runs.map((r) => r.latencies.length)),
    p50Ms: summarize(runs.map((r) => percentile(r.latencies, 50))),
    p99Ms: summarize(runs.map((r) => percentile(r.latencies, 99))),
    maxMs: summarize(runs.map((r) => Math.max(...r.latencies))),
    fromCallP50Ms: summarize(runs.map((r) => percentile(r.fromCall, 50))),
    fromCallP99Ms: summarize(runs.map((r) => percentile(r.fromCall, 99))),
  }
}
