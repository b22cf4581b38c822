// The cost of webhooks on delivery: the same queue delivered by a worker with and without a
// webhook endpoint configured (every `sent` event POSTed to a receiver in its own process), in
// alternating runs. The event log itself is written either way; this measures delivering it.
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { createOutbox } from '../dist/index.js'
import { openStore } from '../dist/store/open-store.js'
import { startCpuMeter } from './cpu.mjs'
import { bulkInsert, cpuPerMessage } from './delivery.mjs'
import { now, progress, summarize, waitUntil } from './common.mjs'

const CONCURRENCY = 10
const SECRET = 'bench secret of at least twenty-four characters'

async function startReceiver() {
  const child = fork(new URL('./webhook-receiver.mjs', import.meta.url), { stdio: 'inherit' })
  const [{ port }] = await once(child, 'message')
  const ask = async (message) => {
    child.send(message)
    return (await once(child, 'message'))[0]
  }
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    status: () => ask('status'),
    reset: () => ask('reset'),
    async stop() {
      child.send('stop')
      await once(child, 'exit')
    },
  }
}

async function run({ url, sink, messages, timeoutMs, receiver, withWebhook }) {
  const store = await openStore(url)
  try {
    await bulkInsert(store, messages, messages.length)
    await receiver.reset()
    const outbox = await createOutbox({
      store,
      upstream: sink.url,
      concurrency: CONCURRENCY,
      ...(withWebhook
        ? { webhooks: [{ url: receiver.url, events: ['sent'], secret: SECRET }] }
        : {}),
    })
    try {
      await sink.reset({ replyDelayMs: 0 })
      const worker = outbox.worker()
      // CPU until the work is done: every message delivered and, with the webhook, every event
      // received (the receiver's own CPU apart: a real one runs elsewhere).
      const cpu = await startCpuMeter(sink)
      const receiverCpuStart = (await receiver.status()).cpuMs
      const started = now()
      await worker.start()
      await waitUntil(() => worker.counts.sent >= messages.length, timeoutMs, 'delivery', 10)
      const deliveredAt = now()
      let lagMs = null
      if (withWebhook) {
        let status = await receiver.status()
        await waitUntil(
          async () => (status = await receiver.status()).events >= messages.length,
          timeoutMs,
          'the webhook events',
          20,
        )
        lagMs = Math.max(0, status.lastAt - deliveredAt)
      }
      const used = await cpu.stop()
      const receiverMs = (await receiver.status()).cpuMs - receiverCpuStart
      await worker.stop()
      return {
        rate: messages.length / ((deliveredAt - started) / 1000),
        lagMs,
        cpu: { ...used, receiverMs: withWebhook ? receiverMs : null },
      }
    } finally {
      await outbox.close()
    }
  } finally {
    await store.close()
  }
}

/** Alternating runs with and without a webhook on backend `kind`. */
export async function benchWebhooks({ kind, url, sink, messages, repeats, timeoutMs }) {
  const receiver = await startReceiver()
  try {
    const runs = { with: [], without: [] }
    const ratios = []
    for (let i = 0; i < repeats; i++) {
      const pair = {}
      for (const which of i % 2 === 0 ? ['with', 'without'] : ['without', 'with']) {
        pair[which] = await run({
          url: await url(),
          sink,
          messages,
          timeoutMs,
          receiver,
          withWebhook: which === 'with',
        })
        runs[which].push(pair[which])
        progress(
          `webhooks ${kind} run ${i + 1} ${which} webhook: ${Math.round(pair[which].rate)}/s${pair[which].lagMs === null ? '' : `, last event ${Math.round(pair[which].lagMs)} ms after the last delivery`}`,
        )
      }
      ratios.push(pair.with.rate / pair.without.rate)
    }
    return {
      messages: messages.length,
      concurrency: CONCURRENCY,
      withWebhook: summarize(runs.with.map((r) => r.rate)),
      withoutWebhook: summarize(runs.without.map((r) => r.rate)),
      ratio: summarize(ratios),
      lastEventLagMs: summarize(runs.with.map((r) => r.lagMs)),
      cpuUsPerMessage: {
        with: cpuPerMessage(runs.with, messages.length, kind === 'sqlite' ? null : kind),
        without: cpuPerMessage(runs.without, messages.length, kind === 'sqlite' ? null : kind),
        receiver:
          (summarize(runs.with.map((r) => r.cpu.receiverMs)).median * 1000) / messages.length,
      },
    }
  } finally {
    await receiver.stop()
  }
}
