import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { createOutbox, type Outbox } from '../src/index.js'
import { createSmtpSink, type SmtpSink } from './helpers/smtp-sink.js'
import { sleep, tempSqlitePath } from './helpers/temp.js'

let outbox: Outbox | null = null
let sink: SmtpSink | null = null
afterEach(async () => {
  await outbox?.close()
  await sink?.close()
})

describe('an upstream outage', () => {
  it(
    'costs no attempts, and a 2,000-message backlog drains within seconds of the return',
    { timeout: 90_000 },
    async () => {
      sink = await createSmtpSink()
      await sink.stop() // the upstream is down: connections to its port are refused
      const path = tempSqlitePath()
      outbox = await createOutbox({ store: `sqlite:${path}`, upstream: sink.url, concurrency: 10 })
      for (let batch = 0; batch < 4; batch++) {
        await outbox.sendMany(
          Array.from({ length: 500 }, (_, i) => ({
            from: 's@example.com',
            to: `r${batch * 500 + i}@example.com`,
            subject: 'backlog',
            text: 'x',
          })),
        )
      }
      const worker = outbox.worker()
      await worker.start()
      await sleep(10_000)

      const duringOutage = await outbox.admin.countByStatus()
      expect(duringOutage.sent).toBe(0)
      expect(duringOutage.failed).toBe(0)
      const db = new Database(path, { readonly: true })
      const attemptsDuringOutage = (
        db.prepare('SELECT count(*) AS n FROM attempts').get() as { n: number }
      ).n
      // Only what was in flight when the outage was found burned an attempt, not every message.
      expect(attemptsDuringOutage).toBeLessThanOrEqual(20)

      await sink.restart()
      const back = Date.now()
      await sink.waitFor(2000, 45_000)
      const drainedIn = sink.messages.at(-1)!.receivedAt - back
      console.log(
        `backlog of 2000 drained ${(drainedIn / 1000).toFixed(1)} s after the upstream came back`,
      )
      expect(drainedIn).toBeLessThan(20_000)
      await worker.stop()

      expect(new Set(sink.messages.flatMap((m) => m.to)).size).toBe(2000)
      const row = db
        .prepare('SELECT max(backoff_step) AS step, count(*) AS n FROM messages WHERE status = ?')
        .get('sent') as {
        step: number
        n: number
      }
      db.close()
      expect(row.n).toBe(2000)
      // Outage failures never count toward a message's backoff.
      expect(row.step).toBe(0)
    },
  )
})
