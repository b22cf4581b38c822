import type { ChildProcess } from 'node:child_process'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createOutbox, type Outbox } from '../../src/index.js'
import {
  createTestDatabase,
  dropTestDatabases,
  mariadbAvailable,
  mariadbUrl,
} from '../helpers/mariadb.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'
import { waitUntil } from '../helpers/temp.js'
import { startWorkerProcess, stopWorkerProcess } from '../helpers/worker-processes.js'

const available = await mariadbAvailable()
let database = ''
let outbox: Outbox | null = null
let sink: SmtpSink | null = null
const children: ChildProcess[] = []
beforeAll(async () => {
  if (available) database = await createTestDatabase('many')
})
afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL')
  await outbox?.close()
  await sink?.close()
})
afterAll(async () => {
  if (available && database) await dropTestDatabases([database])
})

describe.skipIf(!available)('many workers on one MariaDB store', () => {
  it(
    '3 worker processes deliver 6,000 messages, every one exactly once',
    { timeout: 240_000 },
    async () => {
      const store = mariadbUrl(database)
      sink = await createSmtpSink()
      outbox = await createOutbox({ store })
      const total = 6_000
      for (let batch = 0; batch < total / 1000; batch++) {
        await outbox.sendMany(
          Array.from({ length: 1000 }, (_, i) => ({
            from: 's@example.com',
            to: `r${batch * 1000 + i}@example.com`,
            subject: 'many',
            text: 'x',
          })),
        )
      }
      const started = Date.now()
      children.push(
        ...(await Promise.all([1, 2, 3].map(() => startWorkerProcess(store, sink!.url, 10)))),
      )
      await sink.waitFor(total, 200_000)
      const seconds = (Date.now() - started) / 1000
      console.log(
        `3 workers delivered ${total} messages in ${seconds.toFixed(1)} s (${Math.round(total / seconds)}/s)`,
      )
      await waitUntil(
        async () => (await outbox!.admin.countByStatus()).sent === total,
        20_000,
        'all recorded as sent',
      )
      expect(sink.messages).toHaveLength(total)
      expect(new Set(sink.messages.map((m) => m.messageId)).size).toBe(total)

      // Idle workers in other processes wake by the short poll: without it they would sleep
      // a minute. Measured a few times, past the poll's fast phase (it slows after 5 s idle).
      for (let round = 1; round <= 3; round++) {
        await new Promise((resolve) => setTimeout(resolve, 6000))
        const woke = Date.now()
        await outbox.send({
          from: 's@example.com',
          to: `late${round}@example.com`,
          subject: 'wake',
          text: 'x',
        })
        await sink.waitFor(total + round, 10_000)
        console.log(
          `an idle worker in another process delivered a new message ${Date.now() - woke} ms after send()`,
        )
      }
      expect(await Promise.all(children.map(stopWorkerProcess))).toEqual([0, 0, 0])
    },
  )
})
