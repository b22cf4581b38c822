import { execFileSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { createOutbox, StoreUnavailableError, type Outbox } from '../../src/index.js'
import {
  dropSchemas,
  postgresAvailable,
  postgresStoreUrl,
  uniqueSchema,
} from '../helpers/postgres.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'
import { sleep, waitUntil } from '../helpers/temp.js'

// Stops and starts this machine's PostgreSQL: runs on its own (vitest.solo.config.ts), never
// alongside other tests that use the server.

const CONCURRENCY = 5
const available = await postgresAvailable()
const schema = uniqueSchema('restart')
let outbox: Outbox | null = null
let sink: SmtpSink | null = null

function pgctl(action: 'stop' | 'start'): void {
  const version = readdirSync('/etc/postgresql')[0]!
  execFileSync(
    'pg_ctlcluster',
    [
      '--skip-systemctl-redirect',
      version,
      'main',
      action,
      ...(action === 'stop' ? ['-m', 'fast'] : []),
    ],
    {
      stdio: 'inherit',
    },
  )
}

afterEach(async () => {
  await outbox?.close()
  await sink?.close()
})
afterAll(async () => {
  if (!available) return
  try {
    pgctl('start')
  } catch {
    // already running
  }
  await waitUntil(() => postgresUp(), 30_000, 'PostgreSQL back')
  await dropSchemas([schema])
})

async function postgresUp(): Promise<boolean> {
  try {
    execFileSync('pg_isready', ['-h', '127.0.0.1', '-q'])
    return true
  } catch {
    return false
  }
}

describe.skipIf(!available)('PostgreSQL restarting under a running worker', () => {
  it(
    'loses nothing: every message is delivered after the server is back; send() during the outage rejects',
    { timeout: 180_000 },
    async () => {
      sink = await createSmtpSink({ script: { data: () => ({ delayMs: 2 }) } })
      outbox = await createOutbox({
        store: postgresStoreUrl(schema),
        upstream: sink.url,
        leaseDuration: '2s',
        concurrency: CONCURRENCY,
      })
      const total = 3000
      for (let batch = 0; batch < 3; batch++) {
        await outbox.sendMany(
          Array.from({ length: 1000 }, (_, i) => ({
            from: 's@example.com',
            to: `r${batch * 1000 + i}@example.com`,
            subject: 'restart',
            text: 'x',
          })),
        )
      }
      const worker = outbox.worker()
      await worker.start()
      await sink.waitFor(500, 60_000)

      pgctl('stop')
      const during = await outbox
        .send({ from: 's@example.com', to: 'x@example.com', subject: 'during', text: 'x' })
        .catch((e: unknown) => e)
      expect(during).toBeInstanceOf(StoreUnavailableError)
      expect((during as Error).message).toMatch(/unreachable.*nothing was stored/)
      await sleep(2000)
      pgctl('start')
      await waitUntil(() => postgresUp(), 30_000, 'PostgreSQL back')

      const unique = () => new Set(sink!.messages.map((m) => m.messageId)).size
      await waitUntil(
        () => unique() === total,
        120_000,
        'every message delivered after the restart',
      )
      await waitUntil(
        async () => (await outbox!.admin.countByStatus()).sent === total,
        30_000,
        'all recorded as sent',
      )
      await worker.stop()
      const duplicates = sink.messages.length - unique()
      console.log(
        `PostgreSQL restarted after ${500}+ deliveries: all ${total} delivered, ${duplicates} duplicates (concurrency ${CONCURRENCY})`,
      )
      // Only sends in progress when the store went away can go out twice: not the claimed ones
      // waiting for a free slot (the worker stops starting sends it cannot record).
      expect(duplicates).toBeLessThanOrEqual(CONCURRENCY)
      const counts = await outbox.admin.countByStatus()
      expect(counts.sent).toBe(total)
      expect((await outbox.admin.list({ subject: 'during' })).messages).toHaveLength(0)
    },
  )
})
