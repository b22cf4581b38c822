import type { ChildProcess } from 'node:child_process'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { createOutbox, type Outbox } from '../../src/index.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'
import { cleanUpBackends, storeBackends } from '../helpers/store-backends.js'
import { waitUntil } from '../helpers/temp.js'
import { startWorkerProcess, stopWorkerProcess } from '../helpers/worker-processes.js'

// An upstream limited to 20/s, two worker processes on one store: before the limit lived in
// the store, each process had its own bucket and together they sent 40/s.
const RATE = 20
const WINDOW_MS = 10_000
const backends = await storeBackends()
let sink: SmtpSink | null = null
let outbox: Outbox | null = null
const children: ChildProcess[] = []
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => stopWorkerProcess(c)))
  await outbox?.close()
  outbox = null
  await sink?.close()
  sink = null
})
afterAll(cleanUpBackends)

describe('a rate limit shared by every worker process on the store', () => {
  for (const backend of backends) {
    it.skipIf(!backend.available)(
      `${backend.name}: two worker processes send ${RATE}/s together, not ${RATE}/s each`,
      { timeout: 60_000 },
      async () => {
        sink = await createSmtpSink()
        const store = await backend.newUrl('rate')
        const options = {
          upstreams: { limited: { url: sink.url, rateLimit: `${RATE}/s` } },
          routes: [{ upstream: 'limited' }],
        }
        outbox = await createOutbox({ store, ...options })
        const total = 2 * RATE * (WINDOW_MS / 1000 + 4)
        await outbox.sendMany(
          Array.from({ length: total }, (_, i) => ({
            from: 's@example.com',
            to: `r${i}@example.com`,
            subject: `rate ${i}`,
            text: 'x',
          })),
        )
        children.push(
          ...(await Promise.all(
            [1, 2].map(() => startWorkerProcess(store, 'capture', 10, options)),
          )),
        )
        // Measured after the first burst (one second's worth) has gone out, over 10 s.
        await sink.waitFor(1, 20_000)
        const start = sink.messages[0]!.receivedAt + 2000
        await waitUntil(() => Date.now() >= start + WINDOW_MS + 200, WINDOW_MS + 5000, 'window')
        const inWindow = sink.messages.filter(
          (m) => m.receivedAt >= start && m.receivedAt < start + WINDOW_MS,
        ).length
        console.log(
          `${backend.name}: ${inWindow} messages in ${WINDOW_MS / 1000} s through an upstream limited to ${RATE}/s (two worker processes)`,
        )
        expect(inWindow).toBeGreaterThanOrEqual(RATE * (WINDOW_MS / 1000) * 0.9)
        expect(inWindow).toBeLessThanOrEqual(RATE * (WINDOW_MS / 1000) * 1.1)
        // Both processes sent: the limit is shared, not one process doing all the work.
        const sent = await outbox.admin.list({ status: ['sent'] }, { limit: 60 })
        const owners = new Set<string>()
        for (const m of sent.messages) {
          const detail = await outbox.admin.getMessage(m.id)
          owners.add(detail.attemptLog[0]!.worker)
          expect(detail.attemptLog[0]!.upstream).toBe('limited')
        }
        expect(owners.size).toBe(2)
      },
    )
  }
})
