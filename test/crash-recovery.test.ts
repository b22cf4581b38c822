import type { ChildProcess } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import { createOutbox, type Outbox } from '../src/index.js'
import { createSmtpSink, type SmtpSink } from './helpers/smtp-sink.js'
import { tempSqliteUrl, waitUntil } from './helpers/temp.js'
import { startWorkerProcess } from './helpers/worker-processes.js'

const CONCURRENCY = 10

let outbox: Outbox | null = null
let sink: SmtpSink | null = null
const children: ChildProcess[] = []
afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL')
  await outbox?.close()
  await sink?.close()
})

async function startWorker(store: string, upstream: string): Promise<ChildProcess> {
  const child = await startWorkerProcess(store, upstream, CONCURRENCY)
  children.push(child)
  return child
}

describe('crash recovery', () => {
  it(
    'a worker killed with SIGKILL mid-run loses nothing; duplicates stay within its concurrency',
    { timeout: 120_000 },
    async () => {
      sink = await createSmtpSink({ script: { data: () => ({ delayMs: 3 }) } })
      const store = tempSqliteUrl()
      outbox = await createOutbox({ store })
      const total = 2000
      for (let batch = 0; batch < 4; batch++) {
        await outbox.sendMany(
          Array.from({ length: total / 4 }, (_, i) => ({
            from: 's@example.com',
            to: `r${batch * 500 + i}@example.com`,
            subject: 'crash',
            text: 'x',
          })),
        )
      }
      const first = await startWorker(store, sink.url)
      await sink.waitFor(500, 60_000)
      first.kill('SIGKILL')
      await new Promise((resolve) => first.once('exit', resolve))
      const atCrash = sink.messages.length
      expect(atCrash).toBeLessThan(total)
      // What the dead worker held: its leases would keep these waiting for a minute.
      const orphaned = (
        await outbox.admin.list({ status: ['sending'] }, { limit: 1000 })
      ).messages.map((m) => m.messageId)
      expect(orphaned.length).toBeGreaterThan(0)

      const restartedAt = Date.now()
      await startWorker(store, sink.url)
      // A worker on the same host sees that the owner of those leases is gone and takes them.
      await waitUntil(
        () => orphaned.every((id) => sink!.messages.some((m) => m.messageId === id)),
        20_000,
        "the dead worker's messages delivered",
      )
      const recoveredMs = Date.now() - restartedAt
      console.log(
        `the dead worker's ${orphaned.length} leased messages were delivered ${recoveredMs} ms after the restart`,
      )
      // The leases run 60 s: anything much below that is the take-over (the bench measures it).
      expect(recoveredMs).toBeLessThan(15_000)
      const unique = () => new Set(sink!.messages.map((m) => m.messageId)).size
      await waitUntil(() => unique() === total, 60_000, 'every message delivered after restart')
      const duplicates = sink.messages.length - unique()
      console.log(
        `killed after ${atCrash} deliveries; ${duplicates} duplicates after restart (concurrency ${CONCURRENCY})`,
      )
      expect(duplicates).toBeLessThanOrEqual(CONCURRENCY)
      await waitUntil(
        async () => (await outbox!.admin.countByStatus()).sent === total,
        10_000,
        'all recorded as sent',
      )
    },
  )
})
