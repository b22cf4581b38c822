import type { ChildProcess } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import { createOutbox, type Outbox } from '../../src/index.js'
import {
  redisServerInstalled,
  startRedisServer,
  type TestRedisServer,
} from '../helpers/redis-server.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'
import { waitUntil } from '../helpers/temp.js'
import { startWorkerProcess, stopWorkerProcess } from '../helpers/worker-processes.js'

let redis: TestRedisServer | null = null
let outbox: Outbox | null = null
let sink: SmtpSink | null = null
const children: ChildProcess[] = []
afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL')
  await outbox?.close()
  await sink?.close()
  await redis?.close()
})

const installed = redisServerInstalled()

describe.skipIf(!installed)('many workers on one Redis store', () => {
  it(
    '3 worker processes deliver 3,000 messages, every one exactly once',
    { timeout: 240_000 },
    async () => {
      redis = await startRedisServer()
      const store = `${redis.url}?prefix=many:`
      sink = await createSmtpSink()
      outbox = await createOutbox({ store })
      const total = 3_000
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

      // Idle workers in other processes wake by pub/sub, not by polling.
      for (let round = 1; round <= 3; round++) {
        await new Promise((resolve) => setTimeout(resolve, 2000))
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
