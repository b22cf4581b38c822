// 9. Traffic shaping (issue 15): N queued 2 KB messages, a quarter to limited.example (a domain
// limit of 250/s), three eighths to b.example (routed to upstream `b`, limited to 400/s), the
// rest to other domains (the default upstream, no limit). Each upstream is a sink process of its
// own, so arrivals are counted per upstream. A worker process (concurrency 10) takes the tokens
// from the buckets in the store; timed from its start until every message is at the sinks.
// Against the baseline of one direct sender in this process: two pooled Nodemailer transports
// (10 connections each, one per sink) sending the same bytes, with the same limits enforced by
// an in-process token bucket per limit (the same burst: one second's worth), all three groups
// at once. Checks, for both: every message at its upstream's sink exactly once (distinct
// Message-IDs), and no bucket over its limit plus its burst in any 1 s window.
import { fileURLToPath } from 'node:url'
import nodemailer from 'nodemailer'
import { composeMessage } from '../dist/message/compose.js'
import { openStore } from '../dist/store/open-store.js'
import { bulkInsert } from './delivery.mjs'
import {
  alternatingPairs,
  mail,
  now,
  progress,
  sleep,
  summarize,
  waitUntil,
  withTimeout,
} from './common.mjs'
import { startCpuMeter } from './cpu.mjs'
import { startWorkerProcess } from './worker-client.mjs'

const WORKER = fileURLToPath(new URL('./shaping-worker.mjs', import.meta.url))
/** The worker's concurrency, and each direct transport's connections. */
const CONCURRENCY = 10

/** The limited buckets: which recipients, their rate per second, where their mail goes. */
export const BUCKETS = [
  { name: 'limited.example', domain: 'limited.example', ratePerSec: 250, sink: 'default' },
  { name: 'b', domain: 'b.example', ratePerSec: 400, sink: 'b' },
]
/** Share of the messages (in eighths) to limited.example, to b.example; the rest go elsewhere. */
const EIGHTHS = { 'limited.example': 2, 'b.example': 3 }

/** The group of message `i`: 2 of every 8 to limited.example, 3 to b.example, 3 unlimited. */
function groupOf(i) {
  const k = i % 8
  if (k < EIGHTHS['limited.example']) return 'limited.example'
  if (k < EIGHTHS['limited.example'] + EIGHTHS['b.example']) return 'b.example'
  return null
}

/**
 * Composes `count` 2 KB messages once (interleaved: a queue of mixed mail), each with one
 * recipient: `{ ...composed, group }`, group the limited domain or null.
 */
export async function composeShapingMessages(count) {
  const out = []
  for (let i = 0; i < count; i++) {
    const group = groupOf(i)
    const to = group ? `customer${i}@${group}` : `customer${i}@example.org`
    const composed = await composeMessage({ ...mail(i), to }, { maxMessageSize: 25 * 1024 * 1024 })
    out.push({ ...composed, group })
  }
  return out
}

/**
 * The Outbox configuration of the run, the same for every backend; `limits: false` keeps the
 * upstreams and the route but drops both limits (the queue's own pace, for comparison).
 */
function routing(sinks, limits = true) {
  const [domain, upstreamB] = BUCKETS
  return {
    upstream: sinks.default.url,
    upstreams: {
      b: {
        url: sinks.b.url,
        ...(limits ? { rateLimit: `${upstreamB.ratePerSec}/s` } : {}),
        maxConnections: CONCURRENCY,
      },
    },
    routes: [{ match: { to: `@${upstreamB.domain}` }, upstream: 'b' }],
    domainLimits: limits ? { [domain.domain]: `${domain.ratePerSec}/s` } : {},
  }
}

/** Starts a shaping worker process; resolves once its Outbox is open (the worker not started). */
function startShapingWorker(options) {
  return startWorkerProcess(options, { script: WORKER })
}

/** Most arrivals within any `windowMs` (a sliding window over the sorted arrival times). */
function maxInWindow(times, windowMs = 1000) {
  let best = 0
  let start = 0
  for (let end = 0; end < times.length; end++) {
    while (times[end] - times[start] >= windowMs) start++
    best = Math.max(best, end - start + 1)
  }
  return best
}

/**
 * Zeroes both sinks and follows their arrivals; `settled()` waits until each sink has its
 * share, checks that each message arrived once and at the right sink, and returns the arrival
 * times per bucket and the last arrival.
 */
async function followSinks(sinks, messages) {
  const expected = { default: 0, b: 0 }
  const byId = new Map()
  for (const m of messages) {
    const where = m.group === 'b.example' ? 'b' : 'default'
    expected[where]++
    byId.set(m.messageId, { where, group: m.group })
  }
  const arrivals = { default: [], b: [] }
  const stops = []
  for (const where of ['default', 'b']) {
    await sinks[where].reset({ reportEach: true })
    stops.push(sinks[where].onArrival((a) => arrivals[where].push(a)))
  }
  return {
    async settled(timeoutMs) {
      try {
        const reached = await Promise.all(
          ['default', 'b'].map((where) => sinks[where].waitFor(expected[where], timeoutMs)),
        )
        const statuses = await Promise.all(['default', 'b'].map((w) => sinks[w].status()))
        const seen = new Set()
        const times = Object.fromEntries(BUCKETS.map((b) => [b.name, []]))
        let unlimitedLastAt = null
        ;['default', 'b'].forEach((where, i) => {
          const { count, unique } = statuses[i]
          if (count !== expected[where] || unique !== expected[where])
            throw new Error(
              `the ${where} sink got ${count} messages (${unique} distinct Message-IDs), expected ${expected[where]}`,
            )
          for (const a of arrivals[where]) {
            const m = byId.get(a.messageId)
            if (!m || m.where !== where)
              throw new Error(`${a.messageId} arrived at the ${where} sink, not at its upstream's`)
            if (seen.has(a.messageId)) throw new Error(`${a.messageId} arrived twice`)
            seen.add(a.messageId)
            const bucket = BUCKETS.find((b) => b.domain === m.group)
            if (bucket) times[bucket.name].push(a.t)
            else unlimitedLastAt = Math.max(unlimitedLastAt ?? a.t, a.t)
          }
        })
        if (seen.size !== messages.length)
          throw new Error(`${seen.size} distinct messages arrived, expected ${messages.length}`)
        for (const list of Object.values(times)) list.sort((a, b) => a - b)
        return { times, unlimitedLastAt, lastAt: Math.max(...reached.map((r) => r.lastAt)) }
      } finally {
        for (const stop of stops) stop()
      }
    },
  }
}

/** Per bucket: achieved rate, most arrivals in 1 s, whether that stayed within limit + burst. */
function judge(times, startedAt) {
  const buckets = {}
  for (const b of BUCKETS) {
    const t = times[b.name]
    const spanMs = t.at(-1) - startedAt
    const burst = b.ratePerSec // one second's worth
    const maxPerSecond = maxInWindow(t)
    buckets[b.name] = {
      messages: t.length,
      // The messages past the first second's burst over the time from the start until the
      // bucket's last arrival: just under the limit for a sender that keeps up (the last turn
      // comes at (n - burst) / rate), lower for one that does not; null if the burst is all.
      achievedRate: t.length > burst && spanMs > 0 ? ((t.length - burst) * 1000) / spanMs : null,
      maxPerSecond,
      bound: b.ratePerSec + burst,
      held: maxPerSecond <= b.ratePerSec + burst,
    }
  }
  return buckets
}

/** One Outbox run: queue the messages, start the worker process, time until all are at the sinks. */
async function outboxRun({ url, sinks, messages, timeoutMs, limits = true }) {
  const storeUrl = await url()
  const store = await openStore(storeUrl)
  try {
    await bulkInsert(store, messages, messages.length)
  } finally {
    await store.close()
  }
  const worker = await startShapingWorker({
    store: storeUrl,
    concurrency: CONCURRENCY,
    ...routing(sinks, limits),
  })
  try {
    const follow = await followSinks(sinks, messages)
    const cpu = await startCpuMeter(sinks.default)
    const sinkBAtStart = (await sinks.b.status()).cpuMs
    const workerAtStart = (await worker.status()).cpuMs
    const { t: startedAt } = await worker.start()
    const { times, unlimitedLastAt, lastAt } = await follow.settled(timeoutMs)
    const used = await cpu.stop()
    used.sinkMs += (await sinks.b.status()).cpuMs - sinkBAtStart
    used.workerMs = (await worker.status()).cpuMs - workerAtStart
    // The run is over when the queue is: every message recorded sent.
    await waitUntil(
      async () => (await worker.status()).counts.sent >= messages.length,
      timeoutMs,
      `the worker to record all ${messages.length} sent`,
      20,
    )
    const last = await worker.stop()
    return {
      seconds: (lastAt - startedAt) / 1000,
      unlimitedSeconds: (unlimitedLastAt - startedAt) / 1000,
      buckets: judge(times, startedAt),
      deferred: last.counts.deferred,
      failed: last.counts.failed,
      cpu: used,
    }
  } finally {
    await worker.kill()
  }
}

/** An in-process token bucket: one second's worth at most, turns reserved ahead (tokens < 0). */
function tokenBucket(ratePerSec) {
  let tokens = ratePerSec
  let at = now()
  return {
    /** Resolves at the caller's turn. */
    take() {
      const t = now()
      tokens = Math.min(ratePerSec, tokens + ((t - at) * ratePerSec) / 1000) - 1
      at = t
      return tokens >= 0 ? Promise.resolve() : sleep((-tokens * 1000) / ratePerSec)
    },
  }
}

/** The baseline: one sender, two pooled transports, the limits as in-process token buckets. */
async function directRun({ sinks, messages, timeoutMs }) {
  const transports = {}
  for (const where of ['default', 'b']) {
    transports[where] = nodemailer.createTransport({
      host: '127.0.0.1',
      port: sinks[where].port,
      pool: true,
      maxConnections: CONCURRENCY,
      maxMessages: Infinity,
      logger: false,
    })
  }
  try {
    const follow = await followSinks(sinks, messages)
    const cpu = await startCpuMeter(sinks.default)
    const sinkBAtStart = (await sinks.b.status()).cpuMs
    const started = now()
    const buckets = new Map(BUCKETS.map((b) => [b.domain, tokenBucket(b.ratePerSec)]))
    const sends = Promise.all(
      messages.map(async (m) => {
        await buckets.get(m.group)?.take()
        const where = m.group === 'b.example' ? 'b' : 'default'
        return transports[where].sendMail({ envelope: m.envelope, raw: m.raw })
      }),
    )
    sends.catch(() => undefined)
    await withTimeout(sends, timeoutMs, 'the direct sends')
    const { times, unlimitedLastAt, lastAt } = await follow.settled(timeoutMs)
    const used = await cpu.stop()
    used.sinkMs += (await sinks.b.status()).cpuMs - sinkBAtStart
    return {
      seconds: (lastAt - started) / 1000,
      unlimitedSeconds: (unlimitedLastAt - started) / 1000,
      buckets: judge(times, started),
      cpu: used,
    }
  } finally {
    for (const t of Object.values(transports)) t.close()
  }
}

/** The shortest time the limits allow: each bucket's messages past its burst, at its rate. */
export function idealSeconds(messages) {
  return Math.max(
    0,
    ...BUCKETS.map((b) => {
      const n = messages.filter((m) => m.group === b.domain).length
      return Math.max(0, n - b.ratePerSec) / b.ratePerSec
    }),
  )
}

/**
 * Outbox and direct runs alternate (O D, D O, O D) and each ratio (direct time / Outbox time)
 * is taken within a pair. `sinks`: `{ default, b }`, one sink process per upstream.
 */
export async function benchShaping({ kind, url, sinks, messages, repeats, timeoutMs }) {
  const unlimited = []
  const { runs: timed, pairs } = await alternatingPairs(repeats, {
    run: (which) =>
      which === 'outbox'
        ? outboxRun({ url, sinks, messages, timeoutMs })
        : directRun({ sinks, messages, timeoutMs }),
    report: (which, result, i) =>
      progress(
        `shaping ${kind} run ${i + 1} ${which}: ${result.seconds.toFixed(2)} s; ` +
          BUCKETS.map(
            (x) =>
              `${x.name} ${Math.round(result.buckets[x.name].achievedRate ?? NaN)}/s, at most ${result.buckets[x.name].maxPerSecond} in 1 s (bound ${result.buckets[x.name].bound})`,
          ).join('; '),
      ),
    // The same queue through the same routes with no limit: what the queue alone takes here.
    afterPair: async (_pair, i) => {
      const free = await outboxRun({ url, sinks, messages, timeoutMs, limits: false })
      unlimited.push(free)
      progress(`shaping ${kind} run ${i + 1} outbox without limits: ${free.seconds.toFixed(2)} s`)
    },
  })
  const runs = { ...timed, unlimited }
  const ratios = pairs.map((pair) => pair.direct.seconds / pair.outbox.seconds)
  const count = messages.length
  const perBucket = (list) =>
    Object.fromEntries(
      BUCKETS.map((b) => [
        b.name,
        {
          ratePerSec: b.ratePerSec,
          messages: list[0].buckets[b.name].messages,
          achievedRate: summarize(list.map((r) => r.buckets[b.name].achievedRate)),
          maxPerSecond: summarize(list.map((r) => r.buckets[b.name].maxPerSecond)),
          bound: list[0].buckets[b.name].bound,
          held: list.every((r) => r.buckets[b.name].held),
        },
      ]),
    )
  const cpuPer = (list, keys) => {
    const result = {}
    for (const key of keys) {
      const values = list.map((r) => r.cpu[key]).filter((v) => v !== null && v !== undefined)
      result[key.replace(/Ms$/, '')] = values.length
        ? (summarize(values).median * 1000) / count
        : null
    }
    result.total = Object.values(result).reduce((sum, v) => sum + (v ?? 0), 0)
    return result
  }
  const server = kind === 'sqlite' ? [] : [`${kind}Ms`]
  return {
    messages: count,
    concurrency: CONCURRENCY,
    idealSeconds: idealSeconds(messages),
    outboxSeconds: summarize(runs.outbox.map((r) => r.seconds)),
    directSeconds: summarize(runs.direct.map((r) => r.seconds)),
    ratio: summarize(ratios),
    outboxUnlimitedSeconds: summarize(runs.outbox.map((r) => r.unlimitedSeconds)),
    directUnlimitedSeconds: summarize(runs.direct.map((r) => r.unlimitedSeconds)),
    outboxWithoutLimitsSeconds: summarize(runs.unlimited.map((r) => r.seconds)),
    buckets: { outbox: perBucket(runs.outbox), direct: perBucket(runs.direct) },
    outboxDeferred: summarize(runs.outbox.map((r) => r.deferred)),
    outboxFailed: summarize(runs.outbox.map((r) => r.failed)),
    cpuUsPerMessage: {
      // The bench process only follows the sinks' arrivals during an Outbox run: not counted.
      outbox: cpuPer(runs.outbox, ['workerMs', 'sinkMs', ...server]),
      direct: cpuPer(runs.direct, ['clientMs', 'sinkMs']),
      // What following the arrivals costs this process (part of the direct sender's figure).
      following: cpuPer(runs.outbox, ['clientMs']).client,
    },
  }
}
