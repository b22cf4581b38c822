import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import nodemailer from 'nodemailer'
import { afterEach, describe, expect, it } from 'vitest'
import { expectEachOnce, testMessages } from '../helpers/mail-counts.js'
import { freePort } from '../helpers/free-port.js'
import { postfixAvailable, startPostfix, type PostfixInstance } from '../helpers/postfix.js'
import { killStartedCli, startCli } from '../helpers/run-cli.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'
import { waitUntil } from '../helpers/temp.js'

// Postfix as a client of Outbox: applications submit to a private Postfix 3.7, which relays
// everything to the Outbox listener (relayhost), which delivers to an smtp-server sink.
// Outbox runs as its own process (`outbox start`) and is stopped and started mid-run; Postfix
// keeps what Outbox did not take and retries it (every second here).

const available = postfixAvailable()

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  killStartedCli()
  while (cleanups.length) await cleanups.pop()!()
})

interface Relay {
  sink: SmtpSink
  postfix: PostfixInstance
  start: () => Promise<{ child: ChildProcess; output: () => string }>
}

async function relay(): Promise<Relay> {
  const cwd = mkdtempSync(join(tmpdir(), 'outbox-relay-'))
  cleanups.push(() => rmSync(cwd, { recursive: true, force: true }))
  const sink = await createSmtpSink()
  cleanups.push(() => sink.close())
  const port = await freePort()
  const env = {
    OUTBOX_STORE: `sqlite:${join(cwd, 'queue.db')}`,
    OUTBOX_UPSTREAM: sink.url,
    OUTBOX_SMTP_LISTEN: `127.0.0.1:${port}`,
    OUTBOX_HTTP_LISTEN: 'none',
    // After a SIGKILL, the messages the dead worker had claimed go out again once its leases expire.
    OUTBOX_LEASE_DURATION: '3s',
  }
  const postfix = await startPostfix({ relayhost: `127.0.0.1:${port}` })
  cleanups.push(() => postfix.stop())
  return {
    sink,
    postfix,
    start: () => startCli(['start'], { cwd, env, readyText: 'outbox start' }),
  }
}

/** Submits to Postfix as an application would, 8-bit messages declared BODY=8BITMIME. */
async function submitAll(port: number, messages: ReturnType<typeof testMessages>): Promise<void> {
  const transporter = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    ignoreTLS: true,
    pool: true,
    maxConnections: 2,
  })
  try {
    for (const m of messages) {
      const use8BitMime = /Content-Transfer-Encoding: 8bit/.test(m.raw.toString())
      await transporter.sendMail({ envelope: { from: m.from, to: m.to, use8BitMime }, raw: m.raw })
    }
  } finally {
    transporter.close()
  }
}

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) =>
    child.exitCode !== null ? resolve() : child.once('exit', () => resolve()),
  )

const statusSentLines = (output: string) =>
  output.split('\n').filter((line) => /"status":"sent"/.test(line)).length

describe.skipIf(!available)('Postfix relaying into Outbox', () => {
  it(
    'Outbox stopped (SIGTERM) and started again mid-run: every message arrives once, byte for byte, 8-bit declared',
    { timeout: 120_000 },
    async () => {
      const { sink, postfix, start } = await relay()
      const messages = testMessages(150, 'relay')
      const sent = new Map(messages.map((m) => [m.messageId, m.raw]))
      const first = await start()
      const submitting = submitAll(postfix.port, messages)

      await sink.waitFor(40, 30_000)
      first.child.kill('SIGTERM')
      await exited(first.child)
      expect(first.child.exitCode).toBe(0)
      // Outbox is down for a while: Postfix finds the listener gone and keeps the mail.
      await waitUntil(() => /status=deferred/.test(postfix.log()), 20_000, 'Postfix deferring')
      const second = await start()
      await submitting
      await sink.waitFor(150, 60_000)
      await waitUntil(async () => (await postfix.queued()) === 0, 20_000, "Postfix's queue empty")

      expectEachOnce(sink, sent)
      const eightBit = sink.messages.filter((m) =>
        /Content-Transfer-Encoding: 8bit/.test(m.raw.toString()),
      )
      expect(eightBit).toHaveLength(30)
      expect(eightBit.every((m) => m.bodyType === '8bitmime')).toBe(true)
      expect(postfix.log().match(/ status=sent /g)).toHaveLength(150)
      // Outbox logged each delivery once, across both runs.
      second.child.kill('SIGTERM')
      await exited(second.child)
      expect(statusSentLines(first.output()) + statusSentLines(second.output())).toBe(150)
    },
  )

  it(
    'Outbox killed (SIGKILL) mid-run: nothing is lost; a duplicate is possible only for what was in flight',
    { timeout: 120_000 },
    async () => {
      const { sink, postfix, start } = await relay()
      const messages = testMessages(100, 'killed')
      const first = await start()
      const submitting = submitAll(postfix.port, messages)
      await sink.waitFor(30, 30_000)
      first.child.kill('SIGKILL')
      await exited(first.child)
      await start()
      await submitting
      await waitUntil(
        () => new Set(sink.messages.map((m) => m.messageId)).size === 100,
        60_000,
        'every message at the sink',
      )
      await waitUntil(async () => (await postfix.queued()) === 0, 20_000, "Postfix's queue empty")
      const duplicates = sink.messages.length - 100
      console.log(`SIGKILL mid-run: 100 delivered, ${duplicates} duplicates`)
      // Bounded by what was in flight at the kill: the worker's sends (concurrency 10) and the
      // messages committed but not yet acknowledged to Postfix (at most one per connection of
      // its, 20 by default), which Postfix then sends again.
      expect(duplicates).toBeLessThanOrEqual(30)
    },
  )
})
