import type { ChildProcess } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import { createOutbox, type Outbox } from '../../src/index.js'
import {
  mariadbServerInstalled,
  startMariadbServer,
  type TestMariadbServer,
} from '../helpers/mariadb-server.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'
import { waitUntil } from '../helpers/temp.js'
import { startWorkerProcess } from '../helpers/worker-processes.js'

const CONCURRENCY = 5

let server: TestMariadbServer | null = null
let outbox: Outbox | null = null
let sink: SmtpSink | null = null
const children: ChildProcess[] = []
afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL')
  await outbox?.close()
  await sink?.close()
  await server?.close()
})

const installed = mariadbServerInstalled()

describe.skipIf(!installed)('MariaDB killed and restarted under a running worker', () => {
  it(
    'delivers every acknowledged message after the restart; duplicates stay within the concurrency',
    { timeout: 240_000 },
    async () => {
      server = await startMariadbServer()
      sink = await createSmtpSink({ script: { data: () => ({ delayMs: 3 }) } })
      outbox = await createOutbox({ store: server.url })
      const total = 1500
      const acknowledged: string[] = []
      for (let batch = 0; batch < 3; batch++) {
        const results = await outbox.sendMany(
          Array.from({ length: total / 3 }, (_, i) => ({
            from: 's@example.com',
            to: `r${batch * 500 + i}@example.com`,
            subject: 'kill',
            text: 'x',
          })),
        )
        acknowledged.push(...results.map((r) => r.messageId))
      }
      children.push(await startWorkerProcess(server.url, sink.url, CONCURRENCY))
      await sink.waitFor(300, 60_000)
      await server.kill()
      expect(sink.messages.length).toBeLessThan(total)
      // While it is down, send() says so instead of acknowledging what it could not store.
      await expect(
        outbox.send({ from: 's@example.com', to: 'down@example.com', subject: 'x', text: 'x' }),
      ).rejects.toMatchObject({ code: 'OUTBOX_STORE_UNAVAILABLE' })
      await server.start()

      // The worker reconnects by itself and finishes the queue; InnoDB kept every commit.
      await waitUntil(
        () => new Set(sink!.messages.map((m) => m.messageId)).size >= total,
        150_000,
        'every acknowledged message delivered after the restart',
      )
      const delivered = new Set(sink.messages.map((m) => m.messageId))
      expect(acknowledged.filter((id) => !delivered.has(id))).toEqual([])
      const duplicates = sink.messages.length - delivered.size
      console.log(`delivered ${delivered.size} after a MariaDB SIGKILL; ${duplicates} twice`)
      // Only sends whose outcome the dead server never committed go again: one per slot.
      expect(duplicates).toBeLessThanOrEqual(CONCURRENCY)
      await waitUntil(
        async () => (await outbox!.admin.countByStatus()).sent === total,
        30_000,
        'all recorded as sent',
      )
    },
  )
})
