// 1. Enqueue: send() one at a time (rate, p50/p99 latency) and sendMany() in batches of 100,
// for small (2 KB) messages and messages with a 100 KB attachment. No worker runs.
import { createOutbox } from '../dist/index.js'
import { mail, now, percentile, progress, repeat, summarize } from './common.mjs'

/**
 * @param {{ kind: string, url: () => string, sizes: object, repeats: number }} setup
 *   `url()` gives (a promise of) a fresh store URL of the backend `kind`.
 */
export async function benchEnqueue({ kind, url, sizes, repeats }) {
  const results = {}
  for (const [variant, large] of [
    ['small', false],
    ['attachment', true],
  ]) {
    const count = large ? sizes.enqueueLargeCount : sizes.enqueueCount
    const outbox = await createOutbox({ store: await url(), upstream: 'capture' })
    try {
      // Warm up: the first sends compile code paths and fill caches.
      for (let i = 0; i < Math.min(100, count); i++) await outbox.send(mail(i, { large }))

      const single = await repeat(repeats, async (run) => {
        const latencies = []
        const started = now()
        for (let i = 0; i < count; i++) {
          const t = now()
          await outbox.send(mail(i, { large }))
          latencies.push(now() - t)
        }
        const seconds = (now() - started) / 1000
        progress(
          `enqueue ${kind} ${variant} send() run ${run + 1}: ${Math.round(count / seconds)}/s`,
        )
        return {
          rate: count / seconds,
          p50: percentile(latencies, 50),
          p99: percentile(latencies, 99),
        }
      })

      const batches = Math.max(1, Math.round(count / 100))
      const many = await repeat(repeats, async (run) => {
        const started = now()
        for (let b = 0; b < batches; b++) {
          await outbox.sendMany(Array.from({ length: 100 }, (_, i) => mail(b * 100 + i, { large })))
        }
        const seconds = (now() - started) / 1000
        progress(
          `enqueue ${kind} ${variant} sendMany() run ${run + 1}: ${Math.round((batches * 100) / seconds)}/s`,
        )
        return (batches * 100) / seconds
      })

      results[variant] = {
        messagesPerRun: count,
        send: {
          rate: summarize(single.map((r) => r.rate)),
          p50Ms: summarize(single.map((r) => r.p50)),
          p99Ms: summarize(single.map((r) => r.p99)),
        },
        sendManyBatch100: { rate: summarize(many) },
      }
    } finally {
      await outbox.close()
    }
  }
  return results
}
