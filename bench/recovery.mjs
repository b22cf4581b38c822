// 7. Crash recovery (SQLite): N queued messages, a worker process delivering them to the sink
// (which answers each after a few ms, so that messages are in flight), killed with SIGKILL once
// about a quarter arrived; a new worker process is started at once. Timed from that restart:
// until every message is at the sink, and until the messages the dead worker held leased
// (`sending` at the kill, read from the store) were delivered by the new one.
import { createOutbox } from '../dist/index.js'
import { openStore } from '../dist/store/open-store.js'
import { bulkInsert } from './delivery.mjs'
import { now, progress, summarize, waitUntil } from './common.mjs'
import { startWorkerProcess } from './worker-client.mjs'

const CONCURRENCY = 10

/** When the `count`th distinct Message-ID arrived (our clock), from the sink's arrival log. */
function timeOfUnique(arrivals, count) {
  const seen = new Set()
  for (const a of arrivals) {
    seen.add(a.messageId)
    if (seen.size >= count) return a.t
  }
  return null
}

/** When the last of `ids` arrived at or after `since` (each counted at its first such arrival). */
function timeOfAllSince(arrivals, ids, since) {
  const pending = new Set(ids)
  for (const a of arrivals) {
    if (a.t >= since && pending.delete(a.messageId) && pending.size === 0) return a.t
  }
  return pending.size === 0 ? since : null
}

async function run({ url, sink, messages, killAfter, replyDelayMs, timeoutMs }) {
  const storeUrl = await url()
  const store = await openStore(storeUrl)
  // For reading the queue only: no worker runs in this process.
  const outbox = await createOutbox({ store, upstream: 'capture' })
  const processes = []
  let stopFollowing = null
  try {
    const total = messages.length
    await bulkInsert(store, messages, total)
    await sink.reset({ reportEach: true, replyDelayMs })
    const arrivals = []
    const unique = new Set()
    stopFollowing = sink.onArrival((arrival) => {
      arrivals.push(arrival)
      unique.add(arrival.messageId)
    })

    const first = await startWorkerProcess({
      store: storeUrl,
      upstream: sink.url,
      concurrency: CONCURRENCY,
    })
    processes.push(first)
    await waitUntil(
      () => arrivals.length >= killAfter,
      timeoutMs,
      `${killAfter} messages at the sink before the kill`,
      1,
    )
    await first.kill()
    processes.splice(processes.indexOf(first), 1)
    const atKill = unique.size
    // What the dead worker held: without a take-over, its leases would keep these for a minute.
    const page = await outbox.admin.list({ status: ['sending'] }, { limit: 1000 })
    const orphaned = page.messages.map((m) => m.messageId)

    const restartedAt = now()
    const second = await startWorkerProcess({
      store: storeUrl,
      upstream: sink.url,
      concurrency: CONCURRENCY,
    })
    processes.push(second)
    const readyAt = now()
    await waitUntil(
      () => unique.size >= total,
      timeoutMs,
      `all ${total} messages at the sink after the restart`,
    )
    await waitUntil(
      async () => (await outbox.admin.countByStatus()).sent === total,
      timeoutMs,
      `all ${total} recorded sent`,
      20,
    )
    await second.stop()
    processes.splice(processes.indexOf(second), 1)
    // Delivered by the new worker means an arrival after the restart: one that reached the sink
    // before the kill but was never acknowledged is sent again.
    await waitUntil(
      () => timeOfAllSince(arrivals, orphaned, restartedAt) !== null,
      5_000,
      "the dead worker's messages at the sink again",
    )
    const orphansMs = timeOfAllSince(arrivals, orphaned, restartedAt) - restartedAt
    const allMs = timeOfUnique(arrivals, total) - restartedAt
    return {
      messages: total,
      atKill,
      orphaned: orphaned.length,
      readyMs: readyAt - restartedAt,
      orphansMs,
      allMs,
      // Every message at the sink, the dead worker's delivered again: the recovery is over.
      doneMs: Math.max(orphansMs, allMs),
      duplicates: arrivals.length - unique.size,
    }
  } finally {
    stopFollowing?.()
    await Promise.all(processes.map((p) => p.kill()))
    await outbox.close()
    await store.close()
  }
}

export async function benchRecovery({
  url,
  sink,
  messages,
  killAfter,
  replyDelayMs,
  repeats,
  timeoutMs,
}) {
  const runs = []
  for (let r = 0; r < repeats; r++) {
    const result = await run({ url, sink, messages, killAfter, replyDelayMs, timeoutMs })
    runs.push(result)
    progress(
      `recovery run ${r + 1}: killed after ${result.atKill}, ${result.orphaned} leased; ` +
        `those delivered ${Math.round(result.orphansMs)} ms and all ${Math.round(result.allMs)} ms ` +
        `after the restart (process ready after ${Math.round(result.readyMs)} ms), ${result.duplicates} duplicates`,
    )
  }
  const of = (key) => summarize(runs.map((r) => r[key]))
  return {
    messages: messages.length,
    killAfter,
    replyDelayMs,
    concurrency: CONCURRENCY,
    atKill: of('atKill'),
    orphaned: of('orphaned'),
    readyMs: of('readyMs'),
    orphansMs: of('orphansMs'),
    allMs: of('allMs'),
    doneMs: of('doneMs'),
    duplicates: of('duplicates'),
  }
}
