// 2. Delivery throughput: N queued messages delivered by an Outbox worker to the sink, against
// the baseline of the same bytes sent straight through a pooled Nodemailer SMTP transport with
// as many connections, no queue. Both run in this process; the sink runs in its own.
import nodemailer from 'nodemailer'
import { createOutbox } from '../dist/index.js'
import { openStore } from '../dist/store/open-store.js'
import {
  alternatingPairs,
  newMessage,
  now,
  progress,
  summarize,
  waitUntil,
  withTimeout,
} from './common.mjs'
import { startCpuMeter } from './cpu.mjs'

const CONCURRENCY = 10

/** Inserts prebuilt rows through the store's own enqueue, in batches. */
export async function bulkInsert(store, composed, count, batchSize = 1000) {
  for (let i = 0; i < count; i += batchSize) {
    const rows = []
    for (let k = i; k < Math.min(count, i + batchSize); k++) {
      rows.push(newMessage(composed[k % composed.length]))
    }
    await store.enqueue(rows)
  }
}

/** Starts a worker on `outbox` and times it until `count` messages are recorded sent. */
async function timeWorker(outbox, { sink, count, timeoutMs, replyDelayMs = 0 }) {
  await sink.reset({ replyDelayMs })
  const worker = outbox.worker()
  const cpu = await startCpuMeter(sink)
  const started = now()
  await worker.start()
  await waitUntil(() => worker.counts.sent >= count, timeoutMs, 'the worker to deliver', 10)
  const rate = count / ((now() - started) / 1000)
  return { rate, cpu: await cpu.stop() }
}

/** One Outbox run: queue `messages`, start a worker, time until all are recorded sent. */
async function outboxRun({ url, sink, messages, timeoutMs, replyDelayMs = 0 }) {
  const store = await openStore(url)
  try {
    await bulkInsert(store, messages, messages.length)
    const outbox = await createOutbox({ store, upstream: sink.url, concurrency: CONCURRENCY })
    try {
      const result = await timeWorker(outbox, {
        sink,
        count: messages.length,
        timeoutMs,
        replyDelayMs,
      })
      const arrived = await sink.status()
      if (arrived.count !== messages.length) {
        throw new Error(`the sink got ${arrived.count} messages, expected ${messages.length}`)
      }
      return result
    } finally {
      await outbox.close()
    }
  } finally {
    await store.close()
  }
}

/** A store that hands out prebuilt messages and records nothing: the worker's own ceiling. */
function noopStore(messages) {
  let next = 0
  return {
    kind: 'noop',
    async enqueue() {
      return []
    },
    async claim({ limit }) {
      const out = []
      while (out.length < limit && next < messages.length) {
        const m = messages[next++]
        out.push({
          id: String(next),
          messageId: m.messageId,
          from: m.envelope.from,
          pendingRecipients: m.envelope.to,
          failedRecipients: 0,
          raw: m.raw,
          priority: 'normal',
          attempts: 0,
          backoffStep: 0,
          createdAt: new Date(),
          expiresAt: new Date(Date.now() + 86_400_000),
          tags: [],
          upstream: null,
        })
      }
      return out
    },
    async renewLeases(_owner, ids) {
      return ids
    },
    async releaseLeases() {},
    async complete() {
      return true
    },
    async msUntilNextDue() {
      return null
    },
    async wakeUpstreamWaiters() {
      return 0
    },
    async expireOverdue() {
      return 0
    },
    onEnqueue() {
      return () => {}
    },
    // No rate limits are configured, so no tokens are asked for; the worker reports its
    // upstreams' state every few seconds.
    async takeTokens() {
      return []
    },
    async adjustRates() {},
    async rateBuckets() {
      return []
    },
    async reportUpstreams() {},
    async upstreamReports() {
      return []
    },
    async upstreamActivity() {
      return []
    },
    async close() {},
  }
}

async function noopRun({ sink, messages, timeoutMs }) {
  const outbox = await createOutbox({
    store: noopStore(messages),
    upstream: sink.url,
    concurrency: CONCURRENCY,
  })
  try {
    return await timeWorker(outbox, { sink, count: messages.length, timeoutMs })
  } finally {
    await outbox.close()
  }
}

/** The baseline: every message handed at once to a pooled Nodemailer transport. */
async function directRun({ sink, messages, timeoutMs, replyDelayMs = 0 }) {
  const transporter = nodemailer.createTransport({
    host: '127.0.0.1',
    port: sink.port,
    pool: true,
    maxConnections: CONCURRENCY,
    maxMessages: Infinity,
    logger: false,
  })
  try {
    await sink.reset({ replyDelayMs })
    const cpu = await startCpuMeter(sink)
    const started = now()
    const sends = messages.map((m) => transporter.sendMail({ envelope: m.envelope, raw: m.raw }))
    await withTimeout(Promise.all(sends), timeoutMs, 'the direct sends')
    const rate = messages.length / ((now() - started) / 1000)
    return { rate, cpu: await cpu.stop() }
  } finally {
    transporter.close()
  }
}

/**
 * Outbox and direct runs alternate (O D D O O D …) so drift in the machine's speed hits both;
 * the ratio is taken within each pair, then summarized.
 */
export async function benchDelivery({
  kind,
  url,
  sink,
  messages,
  repeats,
  timeoutMs,
  replyDelayMs = 0,
}) {
  const { runs, pairs } = await alternatingPairs(repeats, {
    run: async (which) =>
      which === 'outbox'
        ? outboxRun({ url: await url(), sink, messages, timeoutMs, replyDelayMs })
        : directRun({ sink, messages, timeoutMs, replyDelayMs }),
    report: (which, result, i) =>
      progress(
        `delivery ${kind}${replyDelayMs ? ` (sink answers in ${replyDelayMs} ms)` : ''} run ${i + 1} ${which}: ${Math.round(result.rate)}/s`,
      ),
  })
  const ratios = pairs.map((pair) => pair.outbox.rate / pair.direct.rate)
  return {
    messages: messages.length,
    concurrency: CONCURRENCY,
    replyDelayMs,
    outboxRate: summarize(runs.outbox.map((r) => r.rate)),
    directRate: summarize(runs.direct.map((r) => r.rate)),
    ratio: summarize(ratios),
    cpuUsPerMessage: {
      outbox: cpuPerMessage(runs.outbox, messages.length, kind === 'sqlite' ? null : kind),
      direct: cpuPerMessage(runs.direct, messages.length, null),
    },
  }
}

/**
 * CPU microseconds per message, by process (medians over the runs); `server` (postgres, mariadb,
 * redis or null) the database server whose processes the run used.
 */
export function cpuPerMessage(runs, count, server) {
  const per = (key) => {
    const values = runs.map((r) => r.cpu[key]).filter((v) => v !== null)
    return values.length ? (summarize(values).median * 1000) / count : null
  }
  const result = { client: per('clientMs'), sink: per('sinkMs') }
  if (server) result[server] = per(`${server}Ms`)
  result.total = result.client + result.sink + (server ? (result[server] ?? 0) : 0)
  return result
}

/** The worker's ceiling without a store, against the same baseline (run once per bench). */
export async function benchNoopStore({ sink, messages, repeats, timeoutMs }) {
  const runs = []
  const ratios = []
  for (let run = 0; run < repeats; run++) {
    const outbox = await noopRun({ sink, messages, timeoutMs })
    const base = (await directRun({ sink, messages, timeoutMs })).rate
    progress(
      `delivery no-op store run ${run + 1}: ${Math.round(outbox.rate)}/s (direct ${Math.round(base)}/s)`,
    )
    runs.push(outbox)
    ratios.push(outbox.rate / base)
  }
  return {
    messages: messages.length,
    outboxRate: summarize(runs.map((r) => r.rate)),
    ratio: summarize(ratios),
    cpuUsPerMessage: cpuPerMessage(runs, messages.length, null),
  }
}
