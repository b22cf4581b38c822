// 5. Multi-worker throughput: N queued messages delivered by 1, 2 and 4 worker processes on one
// store (PostgreSQL, where workers on several machines is the point), each with concurrency 10.
import { openStore } from '../dist/store/open-store.js'
import { bulkInsert } from './delivery.mjs'
import { now, progress, summarize } from './common.mjs'
import { startWorkerProcess } from './worker-client.mjs'

async function run({ url, sink, messages, workers, timeoutMs }) {
  const storeUrl = await url()
  const store = await openStore(storeUrl)
  const processes = []
  try {
    await bulkInsert(store, messages, messages.length)
    await sink.reset()
    // Start them all, then time from the moment the last one is ready: startup is not delivery.
    const started = await Promise.all(
      Array.from({ length: workers }, () =>
        startWorkerProcess({ store: storeUrl, upstream: sink.url, concurrency: 10 }),
      ),
    )
    processes.push(...started)
    const before = (await sink.status()).count
    const t0 = now()
    await sink.waitFor(messages.length, timeoutMs)
    const seconds = (now() - t0) / 1000
    const stopped = await Promise.all(processes.splice(0).map((p) => p.stop()))
    const sent = stopped.reduce((sum, s) => sum + s.counts.sent, 0)
    const counts = await store.countByStatus()
    if (counts.sent !== messages.length) {
      throw new Error(
        `${counts.sent} of ${messages.length} recorded sent (${sent} by the workers' counts)`,
      )
    }
    return (messages.length - before) / seconds
  } finally {
    for (const p of processes) p.kill()
    await store.close()
  }
}

export async function benchMultiWorker({
  kind,
  url,
  sink,
  messages,
  workerCounts,
  repeats,
  timeoutMs,
}) {
  const results = []
  for (const workers of workerCounts) {
    const rates = []
    for (let r = 0; r < repeats; r++) {
      rates.push(await run({ url, sink, messages, workers, timeoutMs }))
      progress(
        `multi-worker ${kind} ${workers} workers run ${r + 1}: ${Math.round(rates.at(-1))}/s`,
      )
    }
    results.push({ workers, rate: summarize(rates) })
  }
  const one = results[0].rate.median
  for (const r of results) r.speedup = r.rate.median / one
  return { messages: messages.length, concurrencyPerWorker: 10, results }
}
