import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createOutbox, type Outbox, type OutboxOptions } from '../../src/index.js'
import { expectEachOnce, testMessages } from '../helpers/mail-counts.js'
import {
  postfixAvailable,
  selfSignedCertificate,
  startPostfix,
  type PostfixInstance,
  type PostfixOptions,
} from '../helpers/postfix.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'
import { tempSqliteUrl, waitUntil } from '../helpers/temp.js'

// Outbox delivering to a real Postfix 3.7 (a private instance, see helpers/postfix.ts), which
// relays everything to an smtp-server sink where the counts are taken: Outbox → Postfix → sink.

const available = postfixAvailable()

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

async function chain(
  postfix: Omit<PostfixOptions, 'relayhost'> = {},
): Promise<{ postfix: PostfixInstance; sink: SmtpSink }> {
  const sink = await createSmtpSink()
  cleanups.push(() => sink.close())
  const instance = await startPostfix({ relayhost: `127.0.0.1:${sink.port}`, ...postfix })
  cleanups.push(() => instance.stop())
  return { postfix: instance, sink }
}

async function open(options: OutboxOptions): Promise<Outbox> {
  const outbox = await createOutbox(options)
  cleanups.push(() => outbox.close())
  return outbox
}

/** Enqueues the messages; returns Message-ID → the bytes stored (what must arrive). */
async function enqueue(outbox: Outbox, messages: ReturnType<typeof testMessages>) {
  const results = await Promise.all(messages.map((m) => outbox.sendRaw(m)))
  const stored = new Map<string, Buffer>()
  const ids = new Map<string, string>()
  for (const { id, messageId } of results) {
    stored.set(messageId, await outbox.admin.getRaw(id))
    ids.set(messageId, id)
  }
  return { stored, ids }
}

describe.skipIf(!available)('Outbox delivering to Postfix', () => {
  it(
    'STARTTLS with a self-signed certificate: refused with the fix by default, delivered with tls.ca',
    { timeout: 60_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'outbox-postfix-tls-'))
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
      const cert = selfSignedCertificate(dir)
      const { postfix, sink } = await chain({ tls: cert, settings: { smtpd_tls_loglevel: '1' } })
      const store = tempSqliteUrl()
      const upstream = `smtp://127.0.0.1:${postfix.port}`

      const strict = await open({
        store,
        upstream,
        upstreamProbe: { initialDelay: 100, maxDelay: 200 },
      })
      const { stored } = await enqueue(strict, testMessages(20, 'tls'))
      const worker = strict.worker()
      await worker.start()
      await waitUntil(
        () => strict.upstreamHealth().misconfigured,
        20_000,
        'the certificate refused',
      )
      await worker.stop()
      expect(strict.upstreamHealth().lastError).toMatch(
        /not signed by an authority this machine trusts \(DEPTH_ZERO_SELF_SIGNED_CERT\).*tls\.ca/,
      )
      expect(sink.messages).toHaveLength(0)
      expect((await strict.admin.countByStatus()).failed).toBe(0)
      await strict.close()

      // The documented way for a private CA or a self-signed server: its certificate as tls.ca.
      const trusting = await open({
        store,
        upstream: { host: '127.0.0.1', port: postfix.port, tls: { ca: readFileSync(cert.cert) } },
      })
      const counts = await trusting.drain()
      expect(counts).toMatchObject({ sent: 20, failed: 0 })
      await sink.waitFor(20, 30_000)
      expectEachOnce(sink, stored)
      expect(postfix.log()).toMatch(/TLS connection established from localhost\[127\.0\.0\.1\]/)

      // For tests only: any certificate.
      const anyCert = await open({
        store: tempSqliteUrl(),
        upstream: `${upstream}?tls.rejectUnauthorized=false`,
      })
      await anyCert.sendRaw(testMessages(1, 'any-cert')[0]!)
      expect((await anyCert.drain()).sent).toBe(1)
    },
  )

  it(
    "a recipient access map: 550 fails, 450 defers, and a change of the map reaches Outbox's open connections",
    { timeout: 90_000 },
    async () => {
      const { postfix, sink } = await chain({
        maps: {
          recipient_access:
            'gone@example.com 550 5.1.1 No such user\nlater@example.com 450 4.2.0 Try again later\n',
        },
        settings: {
          smtpd_recipient_restrictions:
            'check_recipient_access hash:$config_directory/recipient_access, permit_mynetworks, reject_unauth_destination',
        },
      })
      const outbox = await open({
        store: tempSqliteUrl(),
        upstream: `smtp://127.0.0.1:${postfix.port}`,
        concurrency: 2,
        retry: { initialDelay: 200, maxDelay: 400 },
        upstreamConnection: { maxMessages: 10 },
      })
      const gone = await outbox.sendRaw(testMessages(1, 'gone', () => 'gone@example.com')[0]!)
      const later = await outbox.sendRaw(testMessages(1, 'later', () => 'later@example.com')[0]!)
      const { stored } = await enqueue(outbox, testMessages(40, 'ok'))
      const worker = outbox.worker()
      await worker.start()
      await waitUntil(
        async () => (await outbox.admin.getMessage(later.id)).attempts >= 3,
        30_000,
        'three attempts refused with 450',
      )
      const refused = await outbox.admin.getMessage(gone.id)
      expect(refused.status).toBe('failed')
      expect(refused.attemptLog.map((a) => a.outcome)).toEqual(['failed'])
      expect(refused.attemptLog[0]!.recipients[0]).toMatchObject({
        code: 550,
        reply: expect.stringMatching(
          /^550 5\.1\.1 <gone@example\.com>: Recipient address rejected: No such user/,
        ) as string,
      })
      const deferred = await outbox.admin.getMessage(later.id)
      expect(deferred.status).toMatch(/deferred|sending/)
      expect(deferred.attemptLog[0]!.recipients[0]!.reply).toMatch(/^450 4\.2\.0 .*Try again later/)

      // The operator lifts the refusal; traffic keeps every connection busy meanwhile.
      await postfix.setMap('recipient_access', 'gone@example.com 550 5.1.1 No such user\n')
      const changedAt = Date.now()
      const more = testMessages(60, 'steady')
      for (const m of more) stored.set(m.messageId, Buffer.from(''))
      const steady = (async () => {
        for (const m of more) {
          const { id } = await outbox.sendRaw(m)
          stored.set(m.messageId, await outbox.admin.getRaw(id))
          await new Promise((resolve) => setTimeout(resolve, 20))
        }
      })()
      await waitUntil(
        async () => (await outbox.admin.getMessage(later.id)).status === 'sent',
        30_000,
        'the 450 lifted',
      )
      console.log(`map change took effect after ${Date.now() - changedAt} ms`)
      await steady
      await sink.waitFor(stored.size + 1, 30_000)
      await worker.stop()
      stored.set(later.messageId, await outbox.admin.getRaw(later.id))
      expectEachOnce(sink, stored)
    },
  )

  it(
    'a limit of 2 connections per client: 100 messages from a default Outbox within seconds, none deferred',
    { timeout: 60_000 },
    async () => {
      const { postfix, sink } = await chain({
        settings: { smtpd_client_connection_count_limit: '2' },
      })
      const outbox = await open({
        store: tempSqliteUrl(),
        upstream: `smtp://127.0.0.1:${postfix.port}`,
      })
      const { stored, ids } = await enqueue(outbox, testMessages(100, 'capped'))
      const started = Date.now()
      const worker = outbox.worker()
      await worker.start()
      await waitUntil(
        async () => (await outbox.admin.countByStatus()).sent === 100,
        15_000,
        'all 100 accepted by Postfix',
      )
      const took = Date.now() - started
      console.log(`100 messages into Postfix with 2 connections allowed: ${took} ms`)
      await worker.stop()
      expect(postfix.log()).toMatch(/Connection concurrency limit exceeded/)
      const attempts = await Promise.all(
        [...ids.values()].map(async (id) => (await outbox.admin.getMessage(id)).attemptLog),
      )
      expect(attempts.flat().map((a) => a.outcome)).toEqual(Array(100).fill('sent'))
      await sink.waitFor(100, 30_000)
      expectEachOnce(sink, stored)
    },
  )

  it(
    'a message rate limit: the messages over it are deferred by Postfix and all arrive, once each',
    { timeout: 60_000 },
    async () => {
      const { postfix, sink } = await chain({
        settings: { smtpd_client_message_rate_limit: '10', anvil_rate_time_unit: '1s' },
      })
      const outbox = await open({
        store: tempSqliteUrl(),
        upstream: `smtp://127.0.0.1:${postfix.port}`,
        retry: { initialDelay: 500, maxDelay: 2000 },
      })
      const { stored, ids } = await enqueue(outbox, testMessages(25, 'rate'))
      const worker = outbox.worker()
      await worker.start()
      await sink.waitFor(25, 45_000)
      await worker.stop()
      expectEachOnce(sink, stored)
      const logs = await Promise.all(
        [...ids.values()].map(async (id) => (await outbox.admin.getMessage(id)).attemptLog),
      )
      const refusals = logs.flat().filter((a) => a.outcome === 'deferred')
      expect(refusals.length).toBeGreaterThan(0)
      expect(refusals[0]!.recipients[0]!.reply).toMatch(/^450 4\.7\.1 Error: too much mail from/)
      expect(postfix.log()).toMatch(/Message delivery request rate limit exceeded/)
    },
  )
})
