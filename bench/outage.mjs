// 8. An upstream outage: a worker delivering to the sink, the sink stops listening (connections
// refused), N messages are queued meanwhile (the worker finds the upstream down and probes it),
// and after the outage the sink listens again on the same port. Timed from that moment until
// the worker has recorded the whole backlog as sent. The worker runs in this process, with the
// default probe schedule (as `outbox start` has it).
import { createOutbox } from '../dist/index.js'
import { openStore } from '../dist/store/open-store.js'
import { bulkInsert } from './delivery.mjs'
import { now, progress, sleep, summarize, waitUntil } from './common.mjs'

const CONCURRENCY = 10
/** Delivered before the outage, so that the worker's pool is connected when it starts. */
const WARM_UP = 20

async function run({ url, sink, backlog, warmUp, outageMs, timeoutMs }) {
  const store = await openStore(await url())
  const outbox = await createOutbox({ store, upstream: sink.url, concurrency: CONCURRENCY })
  let paused = false
  try {
    const worker = outbox.worker()
    await worker.start()
    await sink.reset()
    await bulkInsert(store, warmUp, warmUp.length)
    await waitUntil(() => worker.counts.sent >= warmUp.length, timeoutMs, 'the warm-up delivered')

    const pausedAt = await sink.pause()
    paused = true
    await sink.reset()
    const before = { ...worker.counts }
    await bulkInsert(store, backlog, backlog.length)
    await sleep(Math.max(0, pausedAt + outageMs - now()))
    const during = {
      sent: worker.counts.sent - before.sent,
      deferred: worker.counts.deferred - before.deferred,
      down: outbox.upstreamHealth().down,
    }
    if (during.sent !== 0) throw new Error(`${during.sent} messages sent to a closed port`)

    const resumedAt = await sink.resume()
    paused = false
    const target = before.sent + backlog.length
    // Where the backlog stands when the target's 5 s are up, if it is not drained by then.
    let lateCounts = null
    const late = setTimeout(() => {
      if (worker.counts.sent < target) {
        void outbox.admin.countByStatus().then(
          (counts) => (lateCounts ??= counts),
          () => undefined,
        )
      }
    }, 5000)
    try {
      await waitUntil(() => worker.counts.sent >= target, timeoutMs, 'the backlog drained', 2)
    } finally {
      clearTimeout(late)
    }
    const drainedAt = now()
    const arrived = await sink.status()
    if (arrived.count !== backlog.length || arrived.unique !== backlog.length) {
      throw new Error(
        `the sink got ${arrived.count} messages (${arrived.unique} distinct), expected ${backlog.length}`,
      )
    }
    const counts = await outbox.admin.countByStatus()
    if (counts.sent !== warmUp.length + backlog.length) {
      throw new Error(`${counts.sent} recorded sent, expected ${warmUp.length + backlog.length}`)
    }
    return {
      drainMs: drainedAt - resumedAt,
      firstArrivalMs: sink.toLocal(arrived.firstAt) - resumedAt,
      lastArrivalMs: sink.toLocal(arrived.lastAt) - resumedAt,
      deferredDuringOutage: during.deferred,
      downDuringOutage: during.down,
      // Not yet sent 5 s after the return, by status (null when drained by then).
      notSentAfter5s: lateCounts && {
        queued: lateCounts.queued,
        sending: lateCounts.sending,
        deferred: lateCounts.deferred,
      },
    }
  } finally {
    // Never leave the bench's sink closed for the sections after this one.
    if (paused) await sink.resume().catch(() => undefined)
    await outbox.close()
    await store.close()
  }
}

/** `messages`: composed messages, at least `count + 20` of them (the warm-up comes after). */
export async function benchOutage({
  kind,
  url,
  sink,
  messages,
  count,
  outageMs,
  repeats,
  timeoutMs,
}) {
  const backlog = messages.slice(0, count)
  const warmUp = messages.slice(count, count + WARM_UP)
  if (warmUp.length < WARM_UP) throw new Error(`benchOutage needs ${count + WARM_UP} messages`)
  const runs = []
  for (let r = 0; r < repeats; r++) {
    const result = await run({ url, sink, backlog, warmUp, outageMs, timeoutMs })
    runs.push(result)
    progress(
      `outage ${kind} run ${r + 1}: ${count} drained ${(result.drainMs / 1000).toFixed(2)} s after the ` +
        `upstream returned (first at the sink after ${(result.firstArrivalMs / 1000).toFixed(2)} s; ` +
        `${result.deferredDuringOutage} attempts deferred during the outage; down: ${result.downDuringOutage})` +
        (result.notSentAfter5s
          ? `; not sent after 5 s: ${JSON.stringify(result.notSentAfter5s)}`
          : ''),
    )
  }
  const of = (key) => summarize(runs.map((r) => r[key]))
  return {
    messages: count,
    outageMs,
    concurrency: CONCURRENCY,
    drainMs: of('drainMs'),
    firstArrivalMs: of('firstArrivalMs'),
    lastArrivalMs: of('lastArrivalMs'),
    deferredDuringOutage: of('deferredDuringOutage'),
    downDuringOutage: runs.every((r) => r.downDuringOutage),
    notSentAfter5s: runs.map((r) => r.notSentAfter5s),
  }
}
