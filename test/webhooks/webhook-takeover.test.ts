import type { ChildProcess } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import { createOutbox, type Outbox } from '../../src/index.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'
import { tempSqliteUrl, waitUntil } from '../helpers/temp.js'
import { createWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js'
import { startWorkerProcess, stopWorkerProcess } from '../helpers/worker-processes.js'

// Two worker processes share a store and one webhook endpoint: one delivers to it at a time;
// killed with SIGKILL mid-request, the other takes the endpoint over and nothing is lost.

const SECRET = 'a webhook secret of thirty-two chars'

let children: ChildProcess[] = []
let outbox: Outbox | undefined
let sink: SmtpSink | undefined
let receiver: WebhookReceiver | undefined
afterEach(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) await stopWorkerProcess(child)
  children = []
  await outbox?.close()
  await sink?.close()
  await receiver?.close()
  outbox = sink = receiver = undefined
})

describe('webhooks across worker processes', () => {
  it('a worker killed mid-request leaves the endpoint to the other, which delivers every event', async () => {
    receiver = await createWebhookReceiver()
    // Slow answers: a request is under way most of the time.
    receiver.answer = () => ({ status: 200, delayMs: 150 })
    sink = await createSmtpSink()
    const store = tempSqliteUrl()
    const webhooks = [{ url: receiver.url, events: ['sent'], secret: SECRET, batchSize: 20 }]
    // Registered (its place in the log kept) before any mail, as `createOutbox` does.
    outbox = await createOutbox({ store, upstream: sink.url, webhooks: webhooks as never })
    const ids = (
      await outbox.sendMany(
        Array.from({ length: 300 }, (_, i) => ({
          from: 'shop@example.com',
          to: `r${i}@example.net`,
          subject: 'Hi',
          text: 'Hello',
        })),
      )
    ).map((r) => r.id)
    for (let i = 0; i < 2; i++)
      children.push(await startWorkerProcess(store, sink.url, 5, { webhooks }))
    await sink.waitFor(300, 60_000)
    // Some of it delivered, then the holder dies during a request.
    await waitUntil(() => receiver!.requests.length >= 3, 30_000, 'a few webhook requests')
    const consumer = (await outbox.admin.webhooks.list())[0]!
    expect(consumer.worker).not.toBeNull()
    const holder = children.find((c) => consumer.worker!.includes(`:${c.pid}:`))
    expect(holder, `the holder ${consumer.worker} is one of the workers`).toBeDefined()
    holder!.kill('SIGKILL')
    await waitUntil(
      () => new Set(receiver!.requests.flatMap((r) => r.events.map((e) => e.id))).size === 300,
      60_000,
      'every event after the takeover',
    )
    const got = receiver.requests.flatMap((r) => r.events)
    expect(new Set(got.map((e) => e.id))).toEqual(new Set(ids))
    const duplicates = got.length - new Set(got.map((e) => e.seq)).size
    // At most what the dead process had sent but not yet saved: a few batches.
    console.log(
      `takeover: ${receiver.requests.length} requests, ${duplicates} events delivered twice`,
    )
    expect(duplicates).toBeLessThanOrEqual(100)
    const after = (await outbox.admin.webhooks.list())[0]!
    expect(after.worker).not.toBe(consumer.worker)
  }, 120_000)
})
