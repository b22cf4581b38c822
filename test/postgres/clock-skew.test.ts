import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { createOutbox, type Outbox } from '../../src/index.js'
import {
  dropSchemas,
  postgresAvailable,
  postgresStoreUrl,
  uniqueSchema,
} from '../helpers/postgres.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'
import { waitUntil } from '../helpers/temp.js'

// Workers whose clocks are an hour off (libfaketime), on one PostgreSQL store: every time that
// decides something (due, expired, leased) must be the database's.

const WORKER = fileURLToPath(new URL('../fixtures/worker-process.mjs', import.meta.url))
const HOUR = 3_600_000
const LIBFAKETIME = ['', ...readdirSync('/usr/lib')]
  .map((dir) => `/usr/lib/${dir}${dir ? '/' : ''}faketime/libfaketime.so.1`)
  .find((path) => existsSync(path))
if (!LIBFAKETIME) {
  const reason = 'libfaketime is not installed (Debian package faketime)'
  if (process.env.CI === 'true') throw new Error(`${reason}; CI needs it: see .ci/run.`)
  console.warn(`SKIPPING the clock skew test: ${reason}`)
}

const available = (await postgresAvailable()) && LIBFAKETIME !== undefined
const schema = uniqueSchema('skew')
const store = postgresStoreUrl(schema)
let outbox: Outbox | null = null
let sink: SmtpSink | null = null
const children: ChildProcess[] = []
afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL')
  await outbox?.close()
  await sink?.close()
})
afterAll(async () => {
  if (available) await dropSchemas([schema])
})

/** Starts a worker process whose clock is `offset` off; resolves with its clock at start. */
async function skewedWorker(offset: '+1h' | '-1h', upstream: string): Promise<number> {
  const options = {
    maxAge: '30m',
    retry: { initialDelay: '1s', maxDelay: '2s' },
    leaseDuration: 1200,
  }
  const child = spawn(process.execPath, [WORKER, store, upstream, '3', JSON.stringify(options)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      ...process.env,
      LD_PRELOAD: LIBFAKETIME,
      FAKETIME: offset,
      // Only the wall clock: timers and timeouts keep running at their real pace.
      DONT_FAKE_MONOTONIC: '1',
    },
  })
  children.push(child)
  return new Promise<number>((resolve, reject) => {
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const ready = /ready (\d+)/.exec(output)
      if (ready) resolve(Number(ready[1]))
    })
    child.once('exit', (code) => reject(new Error(`worker exited early with code ${code}`)))
  })
}

describe.skipIf(!available)('workers whose clocks are an hour off', () => {
  it(
    'neither send scheduled mail early, nor expire it early, nor steal leases, and log attempts at the database time',
    { timeout: 120_000 },
    async () => {
      // Each message: the first try is answered 451 after 2 s (longer than the 1.2 s lease,
      // which must be renewed), the second is accepted.
      const tries = new Map<string, number[]>()
      sink = await createSmtpSink({
        script: {
          data: (_envelope, raw) => {
            const id = /^message-id:\s*(\S+)/im.exec(raw.toString('latin1'))![1]!
            const seen = tries.get(id) ?? []
            seen.push(Date.now())
            tries.set(id, seen)
            return seen.length === 1
              ? { delayMs: 2000, then: { code: 451, message: 'greylisted, try again' } }
              : 'accept'
          },
        },
      })
      outbox = await createOutbox({ store, maxAge: '30m' })
      const now = await outbox.sendMany(
        Array.from({ length: 12 }, (_, i) => ({
          from: 's@example.com',
          to: `r${i}@example.com`,
          subject: 'now',
          text: 'x',
        })),
      )
      const sendAt = new Date(Date.now() + 6000)
      const scheduled = await outbox.sendMany(
        Array.from({ length: 4 }, (_, i) => ({
          mail: { from: 's@example.com', to: `later${i}@example.com`, subject: 'later', text: 'x' },
          options: { sendAt },
        })),
      )

      const [ahead, behind] = await Promise.all([
        skewedWorker('+1h', sink.url),
        skewedWorker('-1h', sink.url),
      ])
      const real = Date.now()
      // libfaketime really moved the workers' clocks.
      expect(Math.abs(ahead - real - HOUR)).toBeLessThan(60_000)
      expect(Math.abs(behind - real + HOUR)).toBeLessThan(60_000)

      const all = [...now, ...scheduled]
      await waitUntil(
        async () => {
          const counts = await outbox!.admin.countByStatus()
          return counts.sent + counts.failed === all.length
        },
        90_000,
        'every message finished',
      )
      const counts = await outbox.admin.countByStatus()
      console.log(
        `workers ${ahead - real > 0 ? '+' : ''}${Math.round((ahead - real) / 60_000)} and ${Math.round((behind - real) / 60_000)} min off: ${counts.sent} sent, ${counts.failed} failed`,
      )
      expect(counts.failed).toBe(0)
      const details = await Promise.all(all.map(({ id }) => outbox!.admin.getMessage(id)))
      for (const detail of details) {
        // One 451, then sent: not expired, and no second worker sending it meanwhile.
        expect(detail.attemptLog.map((a) => a.outcome)).toEqual(['deferred', 'sent'])
        const [first, second] = tries.get(detail.messageId)!
        expect(tries.get(detail.messageId)).toHaveLength(2)
        // The retry waited its backoff (1 s, less 20 % jitter) after the 451 (2 s after the try).
        expect(second! - first!).toBeGreaterThanOrEqual(2000 + 800 - 50)
        // Attempts are logged at the database's time, not at the worker's.
        for (const attempt of detail.attemptLog) {
          expect(Math.abs(attempt.startedAt.getTime() - real)).toBeLessThan(10 * 60_000)
        }
      }
      for (const { messageId } of scheduled) {
        expect(tries.get(messageId)![0]).toBeGreaterThanOrEqual(sendAt.getTime())
      }
      // Both workers took part.
      const workers = new Set(details.flatMap((d) => d.attemptLog.map((a) => a.worker)))
      const pids = new Set([...workers].map((w) => w.split(':')[1]))
      expect(pids).toEqual(new Set(children.map((c) => String(c.pid))))
    },
  )
})
