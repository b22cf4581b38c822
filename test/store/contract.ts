import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createQueueId } from '../../src/message/queue-id.js'
import type { Completion, NewMessage, Store } from '../../src/store/store.js'
import { sleep, waitUntil } from '../helpers/temp.js'
import { runShapingContract } from './contract-shaping.js'
import { runSuppressionContract } from './contract-suppression.js'
import { runEventContract } from './contract-events.js'
import { runTemplateContract } from './contract-templates.js'

/** How a backend's test file plugs into the contract suite. */
export interface StoreContractOptions {
  /** A fresh, empty, migrated store. */
  newStore: () => Promise<Store>
  /** A second connection to the same store (another process, for the backend). */
  reopen: (store: Store) => Promise<Store>
  /** Contract tests this backend skips, each with its reason. */
  skip?: { reason: string; tests: string[] }[]
}

let counter = 0
export function newMessage(overrides: Partial<NewMessage> = {}): NewMessage {
  counter++
  return {
    id: createQueueId(),
    messageId: `<m${counter}.${Date.now()}@example.com>`,
    envelope: { from: 'sender@example.com', to: ['a@example.com', 'b@example.com'] },
    raw: Buffer.from(`Subject: test ${counter}\r\n\r\nbody\r\n`),
    subject: `test ${counter}`,
    priority: 'normal',
    sendAt: null,
    maxAgeMs: 86_400_000,
    idempotencyKey: null,
    tags: [],
    eightBit: false,
    smtpUtf8: false,
    ...overrides,
  }
}

/** A completion that sends to both of {@link newMessage}'s recipients; override what differs. */
export function completion(
  id: string,
  owner: string,
  overrides: Partial<Completion> = {},
): Completion {
  return {
    id,
    owner,
    attempt: {
      worker: owner,
      startedAt: new Date(),
      durationMs: 5,
      outcome: 'sent',
      error: null,
      recipients: [
        { address: 'a@example.com', status: 'sent', code: 250, reply: '250 ok' },
        { address: 'b@example.com', status: 'sent', code: 250, reply: '250 ok' },
      ],
    },
    recipients: [
      { address: 'a@example.com', status: 'sent', code: 250, reply: '250 ok' },
      { address: 'b@example.com', status: 'sent', code: 250, reply: '250 ok' },
    ],
    status: 'sent',
    dueAt: null,
    countsTowardBackoff: false,
    waitingForUpstream: false,
    reason: null,
    captured: false,
    ...overrides,
  }
}

/** `it`, skipping (with its reason) each test the backend's options list as skipped. */
export function contractTest(
  options: StoreContractOptions,
): (title: string, fn: () => Promise<void>) => void {
  const skipped = new Map<string, string>()
  for (const group of options.skip ?? [])
    for (const test of group.tests) skipped.set(test, group.reason)
  return (title, fn) => {
    const reason = skipped.get(title)
    if (reason) it.skip(`${title} (skipped: ${reason})`, fn)
    else it(title, fn)
  }
}

/**
 * The behaviour every Store must show. A backend's test file calls this once; a backend is
 * done when it passes all of it.
 */
export function runStoreContract(name: string, options: StoreContractOptions): void {
  const test = contractTest(options)

  describe(`Store contract: ${name}`, () => {
    let store: Store
    const extra: Store[] = []
    beforeEach(async () => {
      store = await options.newStore()
    })
    afterEach(async () => {
      for (const s of extra.splice(0)) await s.close()
      await store.close()
    })

    test('enqueues and reads a message back', async () => {
      const m = newMessage({ tags: ['receipt'], priority: 'high' })
      const [result] = await store.enqueue([m])
      expect(result).toEqual({ id: m.id, messageId: m.messageId, duplicate: false, suppressed: [] })
      const detail = await store.getMessage(m.id)
      expect(detail).toMatchObject({
        id: m.id,
        status: 'queued',
        priority: 'high',
        from: 'sender@example.com',
        recipients: ['a@example.com', 'b@example.com'],
        tags: ['receipt'],
        attempts: 0,
        size: m.raw.length,
      })
      expect(detail!.recipientStatus.map((r) => r.status)).toEqual(['pending', 'pending'])
      expect((await store.getRaw(m.id))!.equals(m.raw)).toBe(true)
      expect(await store.getMessage('nope')).toBeNull()
      expect(await store.getRaw('nope')).toBeNull()
    })

    test('enqueue is all or nothing', async () => {
      const a = newMessage()
      const clash = newMessage({ id: a.id })
      await expect(store.enqueue([a, clash])).rejects.toThrow()
      expect(await store.getMessage(a.id)).toBeNull()
      const counts = await store.countByStatus()
      expect(counts.queued).toBe(0)
    })

    test('one failed enqueue does not fail others committed alongside it', async () => {
      const a = newMessage()
      const results = await Promise.allSettled([
        store.enqueue([newMessage()]),
        store.enqueue([a, newMessage({ id: a.id })]),
        store.enqueue([newMessage()]),
      ])
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
      expect((await store.countByStatus()).queued).toBe(2)
    })

    test('an idempotency key stores one message', async () => {
      const first = newMessage({ idempotencyKey: 'k1' })
      await store.enqueue([first])
      const [again] = await store.enqueue([newMessage({ idempotencyKey: 'k1' })])
      expect(again).toEqual({
        id: first.id,
        messageId: first.messageId,
        duplicate: true,
        suppressed: [],
      })
      const [x, y] = await store.enqueue([
        newMessage({ idempotencyKey: 'k2' }),
        newMessage({ idempotencyKey: 'k2' }),
      ])
      expect(y!.id).toBe(x!.id)
      expect(y!.duplicate).toBe(true)
      expect((await store.countByStatus()).queued).toBe(2)
    })

    test('claims in order: priority, then due time, then age', async () => {
      const low = newMessage({ priority: 'low' })
      const normal1 = newMessage()
      const high = newMessage({ priority: 'high' })
      const now = newMessage({ priority: 'now' })
      const normal2 = newMessage()
      for (const m of [low, normal1, high, normal2]) await store.enqueue([m])
      await store.enqueue([now])
      await store.releaseLeases('nobody', [now.id])
      const claimed = await store.claim({ owner: 'w1', limit: 10, leaseMs: 60_000 })
      expect(claimed.map((c) => c.id)).toEqual([now.id, high.id, normal1.id, normal2.id, low.id])
      expect(claimed[0]).toMatchObject({
        from: 'sender@example.com',
        pendingRecipients: ['a@example.com', 'b@example.com'],
        attempts: 0,
      })
    })

    test('hands a claimed message back with what it needs from the relay (8-bit, SMTPUTF8)', async () => {
      const plain = newMessage()
      const eightBit = newMessage({ eightBit: true })
      const utf8 = newMessage({ eightBit: true, smtpUtf8: true })
      await store.enqueue([plain, eightBit, utf8])
      const claimed = await store.claim({ owner: 'w1', limit: 10, leaseMs: 60_000 })
      const byId = new Map(claimed.map((c) => [c.id, c]))
      expect(byId.get(plain.id)).toMatchObject({ eightBit: false, smtpUtf8: false })
      expect(byId.get(eightBit.id)).toMatchObject({ eightBit: true, smtpUtf8: false })
      expect(byId.get(utf8.id)).toMatchObject({ eightBit: true, smtpUtf8: true })
    })

    test('claims a message leased to `now` only after release', async () => {
      const m = newMessage({ priority: 'now', leaseTo: { owner: 'sender', leaseMs: 60_000 } })
      await store.enqueue([m])
      expect((await store.getMessage(m.id))!.status).toBe('sending')
      expect(await store.claim({ owner: 'w1', limit: 10, leaseMs: 60_000 })).toEqual([])
      await store.releaseLeases('sender', [m.id])
      expect(
        (await store.claim({ owner: 'w1', limit: 10, leaseMs: 60_000 })).map((c) => c.id),
      ).toEqual([m.id])
    })

    test('does not claim a scheduled message before its time', async () => {
      // Generous margins: on a loaded machine any step here may take a few hundred ms.
      const sendAt = Date.now() + 1500
      const later = newMessage({ sendAt: new Date(sendAt) })
      await store.enqueue([later])
      expect(await store.claim({ owner: 'w1', limit: 10, leaseMs: 60_000 })).toEqual([])
      const next = await store.msUntilNextDue()
      expect(next).toBeGreaterThan(0)
      expect(next).toBeLessThanOrEqual(1500)
      let claimedAt = 0
      await waitUntil(
        async () => {
          const claimed = await store.claim({ owner: 'w1', limit: 10, leaseMs: 60_000 })
          if (claimed.length === 0) return false
          claimedAt = Date.now()
          expect(claimed.map((c) => c.id)).toEqual([later.id])
          return true
        },
        20_000,
        'the scheduled message to become claimable',
      )
      // Never early (a few ms of slack for the store's clock resolution).
      expect(claimedAt).toBeGreaterThanOrEqual(sendAt - 5)
    })

    test('never gives the same message to two claimers while the lease holds', async () => {
      const other = await options.reopen(store)
      extra.push(other)
      await store.enqueue(Array.from({ length: 50 }, () => newMessage()))
      const [a, b] = await Promise.all([
        store.claim({ owner: 'w1', limit: 30, leaseMs: 60_000 }),
        other.claim({ owner: 'w2', limit: 30, leaseMs: 60_000 }),
      ])
      const ids = [...a, ...b].map((c) => c.id)
      expect(ids).toHaveLength(50)
      expect(new Set(ids).size).toBe(50)
    })

    test('a lease that is not renewed expires and the message is claimable again', async () => {
      const m = newMessage()
      await store.enqueue([m])
      const claimedFrom = Date.now()
      await store.claim({ owner: 'dead', limit: 1, leaseMs: 1000 })
      expect(await store.claim({ owner: 'w2', limit: 1, leaseMs: 60_000 })).toEqual([])
      let taken: { id: string } | undefined
      await waitUntil(
        async () => {
          ;[taken] = await store.claim({ owner: 'w2', limit: 1, leaseMs: 60_000 })
          return taken !== undefined
        },
        20_000,
        'the expired lease to be taken over',
      )
      // Not before the lease ran out.
      expect(Date.now()).toBeGreaterThanOrEqual(claimedFrom + 1000 - 5)
      expect(taken!.id).toBe(m.id)
      // The dead worker's late outcome is not applied over the new owner's lease.
      expect(await store.complete(completion(m.id, 'dead'))).toBe(false)
      expect((await store.getMessage(m.id))!.status).toBe('sending')
      expect(await store.complete(completion(m.id, 'w2'))).toBe(true)
      expect((await store.getMessage(m.id))!.status).toBe('sent')
    })

    test('renewing keeps a lease alive', async () => {
      const m = newMessage()
      await store.enqueue([m])
      await store.claim({ owner: 'w1', limit: 1, leaseMs: 1500 })
      // Renewed every 500 ms for 2 s, past the 1.5 s it was first leased for: a stall of up to
      // a second on a loaded machine cannot make it lapse.
      for (let i = 0; i < 4; i++) {
        await sleep(500)
        expect(await store.renewLeases('w1', [m.id], 1500)).toEqual([m.id])
      }
      expect(await store.claim({ owner: 'w2', limit: 1, leaseMs: 60_000 })).toEqual([])
      expect(await store.renewLeases('w2', [m.id], 1500)).toEqual([])
    })

    test('release gives messages back, due at once, with their previous status', async () => {
      const m = newMessage()
      await store.enqueue([m])
      await store.claim({ owner: 'w1', limit: 1, leaseMs: 60_000 })
      await store.releaseLeases('w1', [m.id])
      const detail = await store.getMessage(m.id)
      expect(detail).toMatchObject({ status: 'queued', leaseOwner: null })
      expect((await store.claim({ owner: 'w2', limit: 1, leaseMs: 60_000 }))[0]!.id).toBe(m.id)
    })

    test('records per-recipient outcomes and tries only pending recipients again', async () => {
      const m = newMessage({
        envelope: {
          from: 's@example.com',
          to: ['ok@example.com', 'no@example.com', 'later@example.com'],
        },
      })
      await store.enqueue([m])
      await store.claim({ owner: 'w1', limit: 1, leaseMs: 60_000 })
      const outcomes = [
        { address: 'ok@example.com', status: 'sent' as const, code: 250, reply: '250 ok' },
        {
          address: 'no@example.com',
          status: 'failed' as const,
          code: 550,
          reply: '550 no such user',
        },
        { address: 'later@example.com', status: 'pending' as const, code: 451, reply: '451 later' },
      ]
      const applied = await store.complete(
        completion(m.id, 'w1', {
          recipients: outcomes,
          attempt: {
            worker: 'w1',
            startedAt: new Date(),
            durationMs: 3,
            outcome: 'partial',
            error: null,
            recipients: outcomes,
          },
          status: 'deferred',
          dueAt: new Date(Date.now() - 1),
          countsTowardBackoff: true,
          reason: 'temporary-failure',
        }),
      )
      expect(applied).toBe(true)
      const detail = await store.getMessage(m.id)
      expect(detail).toMatchObject({ status: 'deferred', attempts: 1, reason: 'temporary-failure' })
      expect(detail!.recipientStatus.map((r) => [r.status, r.code])).toEqual([
        ['sent', 250],
        ['failed', 550],
        ['pending', 451],
      ])
      expect(detail!.attemptLog).toHaveLength(1)
      expect(detail!.attemptLog[0]!.recipients).toEqual(outcomes)
      const [again] = await store.claim({ owner: 'w1', limit: 1, leaseMs: 60_000 })
      expect(again).toMatchObject({
        pendingRecipients: ['later@example.com'],
        failedRecipients: 1,
        attempts: 1,
        backoffStep: 1,
      })
    })

    test('counts messages by status', async () => {
      await store.enqueue([newMessage(), newMessage(), newMessage()])
      const [c] = await store.claim({ owner: 'w1', limit: 1, leaseMs: 60_000 })
      await store.complete(completion(c!.id, 'w1'))
      expect(await store.countByStatus()).toEqual({
        queued: 2,
        sending: 0,
        deferred: 0,
        sent: 1,
        failed: 0,
        held: 0,
      })
    })

    test('wakes messages waiting for the upstream without touching others', async () => {
      const waiting = newMessage()
      const backoff = newMessage()
      await store.enqueue([waiting, backoff])
      await store.claim({ owner: 'w1', limit: 2, leaseMs: 60_000 })
      const later = new Date(Date.now() + 3_600_000)
      await store.complete(
        completion(waiting.id, 'w1', {
          status: 'deferred',
          dueAt: later,
          waitingForUpstream: true,
          reason: 'upstream-down',
        }),
      )
      await store.complete(
        completion(backoff.id, 'w1', {
          status: 'deferred',
          dueAt: later,
          countsTowardBackoff: true,
        }),
      )
      expect(await store.claim({ owner: 'w1', limit: 2, leaseMs: 60_000 })).toEqual([])
      expect(await store.wakeUpstreamWaiters()).toBe(1)
      const claimed = await store.claim({ owner: 'w1', limit: 2, leaseMs: 60_000 })
      expect(claimed.map((c) => c.id)).toEqual([waiting.id])
      expect(claimed[0]!.backoffStep).toBe(0)
    })

    test('expires deferred messages past their max age', async () => {
      const old = newMessage({ maxAgeMs: 100 })
      const young = newMessage()
      await store.enqueue([old, young])
      await store.claim({ owner: 'w1', limit: 2, leaseMs: 60_000 })
      const later = new Date(Date.now() + 3_600_000)
      const pending = ['a@example.com', 'b@example.com'].map((address) => ({
        address,
        status: 'pending' as const,
        code: null,
        reply: 'connection refused',
      }))
      for (const m of [old, young]) {
        await store.complete(
          completion(m.id, 'w1', {
            status: 'deferred',
            dueAt: later,
            waitingForUpstream: true,
            recipients: pending,
          }),
        )
      }
      await sleep(150)
      expect(await store.expireOverdue()).toBe(1)
      const detail = await store.getMessage(old.id)
      expect(detail).toMatchObject({ status: 'failed', reason: 'expired' })
      expect(detail!.recipientStatus.every((r) => r.status === 'failed')).toBe(true)
      expect((await store.getMessage(young.id))!.status).toBe('deferred')
    })

    test('notifies listeners of enqueues', async () => {
      let calls = 0
      const off = store.onEnqueue(() => calls++)
      await store.enqueue([newMessage()])
      expect(calls).toBeGreaterThanOrEqual(1)
      off()
      const before = calls
      await store.enqueue([newMessage()])
      expect(calls).toBe(before)
    })

    test('refuses every call once closed, the same way', async () => {
      const other = await options.reopen(store)
      await other.close()
      await other.close() // closing twice is fine
      const m = newMessage()
      const calls: [string, () => Promise<unknown>][] = [
        ['enqueue', () => other.enqueue([m])],
        ['claim', () => other.claim({ owner: 'w', limit: 1, leaseMs: 1000 })],
        ['renewLeases', () => other.renewLeases('w', [m.id], 1000)],
        ['releaseLeases', () => other.releaseLeases('w', [m.id])],
        ['complete', () => other.complete(completion(m.id, 'w'))],
        ['msUntilNextDue', () => other.msUntilNextDue()],
        ['wakeUpstreamWaiters', () => other.wakeUpstreamWaiters()],
        ['expireOverdue', () => other.expireOverdue()],
        ['getMessage', () => other.getMessage(m.id)],
        ['getRaw', () => other.getRaw(m.id)],
        ['countByStatus', () => other.countByStatus()],
        ['listMessages', () => other.listMessages({}, { limit: 1 })],
        ['hold', () => other.hold({ ids: [m.id] })],
        ['unhold', () => other.unhold({ ids: [m.id] })],
        ['retry', () => other.retry({ ids: [m.id] }, { maxAgeMs: 1000 })],
        ['remove', () => other.remove({ ids: [m.id] })],
        ['purge', () => other.purge({ finishedBefore: new Date(), statuses: ['sent'] })],
        ['stats', () => other.stats()],
        ['activity', () => other.activity({ since: new Date(0), bucketMs: 60_000 })],
      ]
      for (const [name, call] of calls) {
        await expect(call(), name).rejects.toMatchObject({ code: 'OUTBOX_STORE_UNAVAILABLE' })
      }
      // The first connection is untouched.
      expect(await store.countByStatus()).toMatchObject({ queued: 0 })
    })

    test('reads summaries back as stored: a missing subject stays null, tags stay a list', async () => {
      const plain = newMessage({ subject: null, tags: [] })
      const tagged = newMessage({ subject: 'Grüße ✓', tags: ['a', 'b-2'] })
      await store.enqueue([plain, tagged])
      expect(await store.getMessage(plain.id)).toMatchObject({ subject: null, tags: [] })
      expect(await store.getMessage(tagged.id)).toMatchObject({
        subject: 'Grüße ✓',
        tags: ['a', 'b-2'],
        idempotencyKey: null,
        captured: false,
        leaseOwner: null,
        finishedAt: null,
      })
      expect((await store.getMessage(tagged.id))!.dueAt).toBeInstanceOf(Date)
      const listed = await store.listMessages({ tag: 'b-2' }, { limit: 10 })
      expect(listed.messages.map((x) => [x.id, x.subject, x.tags])).toEqual([
        [tagged.id, 'Grüße ✓', ['a', 'b-2']],
      ])
    })

    test('retries deferred and failed messages selected together, all at once', async () => {
      const { f, d } = await mixedQueue()
      const changed = await store.retry(
        { filter: { status: ['deferred', 'failed'] } },
        { maxAgeMs: 3_600_000 },
      )
      expect(changed.sort()).toEqual([f.id, d.id].sort())
      expect(await store.countByStatus()).toMatchObject({ queued: 2, deferred: 1, failed: 0 })
      // Both are due now, and a second retry finds nothing failed to requeue.
      expect((await store.claim({ owner: 'w3', limit: 10, leaseMs: 60_000 })).length).toBe(3)
      expect(await store.retry({ filter: { status: ['failed'] } }, { maxAgeMs: 1000 })).toEqual([])
    })

    test('msUntilNextDue is null when nothing waits', async () => {
      expect(await store.msUntilNextDue()).toBeNull()
    })

    /** Enqueues messages and drives some to sent, failed and deferred. */
    async function mixedQueue() {
      const q = newMessage({
        envelope: { from: 'shop@example.com', to: ['Ann@Example.com'] },
        tags: ['receipt'],
        subject: 'Your receipt',
      })
      const s = newMessage({
        envelope: { from: 'news@example.com', to: ['bob@example.org'] },
        subject: 'Newsletter',
      })
      const f = newMessage({ envelope: { from: 'shop@example.com', to: ['carl@example.org'] } })
      const d = newMessage({
        envelope: { from: 'shop@example.com', to: ['dora@example.net'] },
        tags: ['receipt'],
      })
      for (const m of [q, s, f, d]) {
        await store.enqueue([m])
        await sleep(2)
      }
      await store.claim({ owner: 'w', limit: 10, leaseMs: 60_000 })
      await store.releaseLeases('w', [q.id])
      const one = (address: string, status: 'sent' | 'failed' | 'pending', code: number) => [
        { address, status, code, reply: `${code}` },
      ]
      await store.complete(
        completion(s.id, 'w', { recipients: one('bob@example.org', 'sent', 250) }),
      )
      await store.complete(
        completion(f.id, 'w', {
          status: 'failed',
          reason: 'rejected',
          recipients: one('carl@example.org', 'failed', 550),
          attempt: {
            ...completion(f.id, 'w').attempt,
            outcome: 'failed',
            error: '550 no such user',
            recipients: one('carl@example.org', 'failed', 550),
          },
        }),
      )
      await store.complete(
        completion(d.id, 'w', {
          status: 'deferred',
          dueAt: new Date(Date.now() + 3_600_000),
          countsTowardBackoff: true,
          recipients: one('dora@example.net', 'pending', 451),
          attempt: {
            ...completion(d.id, 'w').attempt,
            outcome: 'deferred',
            error: '451 try later',
            recipients: one('dora@example.net', 'pending', 451),
          },
        }),
      )
      return { q, s, f, d }
    }

    test('lists newest first with filters and cursor paging', async () => {
      const { q, s, f, d } = await mixedQueue()
      const ids = async (filter: Parameters<Store['listMessages']>[0]) =>
        (await store.listMessages(filter, { limit: 100 })).messages.map((m) => m.id)
      expect(await ids({})).toEqual([d.id, f.id, s.id, q.id])
      expect(await ids({ status: ['sent', 'failed'] })).toEqual([f.id, s.id])
      expect(await ids({ to: 'ann@example.com' })).toEqual([q.id])
      expect(await ids({ to: '@example.org' })).toEqual([f.id, s.id])
      expect(await ids({ from: 'SHOP@example.com' })).toEqual([d.id, f.id, q.id])
      expect(await ids({ tag: 'receipt' })).toEqual([d.id, q.id])
      expect(await ids({ subject: 'newsLETTER' })).toEqual([s.id])
      expect(await ids({ since: new Date(Date.now() + 1000) })).toEqual([])
      expect(await ids({ tag: 'receipt', status: ['queued'] })).toEqual([q.id])
      const first = await store.listMessages({}, { limit: 3 })
      expect(first.messages.map((m) => m.id)).toEqual([d.id, f.id, s.id])
      const second = await store.listMessages({}, { limit: 3, cursor: first.nextCursor })
      expect(second.messages.map((m) => m.id)).toEqual([q.id])
      expect(second.nextCursor).toBeNull()
      // Pages of several statuses at once, newest first across them.
      const finished = await store.listMessages({ status: ['sent', 'failed'] }, { limit: 1 })
      expect(finished.messages.map((m) => m.id)).toEqual([f.id])
      const rest = await store.listMessages(
        { status: ['sent', 'failed'] },
        { limit: 1, cursor: finished.nextCursor },
      )
      expect(rest.messages.map((m) => m.id)).toEqual([s.id])
      expect(rest.nextCursor).toBeNull()
      expect(first.messages[0]).toMatchObject({
        status: 'deferred',
        from: 'shop@example.com',
        recipients: ['dora@example.net'],
      })
    })

    test('holds and releases', async () => {
      const { q, s, d } = await mixedQueue()
      expect((await store.hold({ ids: [q.id, s.id, d.id] })).sort()).toEqual([q.id, d.id].sort())
      expect(await store.claim({ owner: 'w2', limit: 10, leaseMs: 60_000 })).toEqual([])
      expect(await store.msUntilNextDue()).toBeNull()
      expect((await store.getMessage(q.id))!.status).toBe('held')
      expect((await store.unhold({ filter: { status: ['held'] } })).sort()).toEqual(
        [q.id, d.id].sort(),
      )
      expect((await store.getMessage(q.id))!.status).toBe('queued')
      expect((await store.getMessage(d.id))!.status).toBe('deferred')
      // Released messages are due at once, whatever their backoff said.
      expect((await store.claim({ owner: 'w2', limit: 10, leaseMs: 60_000 })).length).toBe(2)
    })

    test('retry makes deferred messages due and requeues failed recipients only', async () => {
      const { q, s, f, d } = await mixedQueue()
      const changed = await store.retry({ ids: [s.id, f.id, d.id] }, { maxAgeMs: 3_600_000 })
      expect(changed.sort()).toEqual([f.id, d.id].sort())
      const failed = await store.getMessage(f.id)
      expect(failed).toMatchObject({ status: 'queued', reason: null, finishedAt: null })
      expect(failed!.recipientStatus[0]!.status).toBe('pending')
      expect(failed!.expiresAt.getTime()).toBeGreaterThan(Date.now() + 3_500_000)
      const claimed = await store.claim({ owner: 'w2', limit: 10, leaseMs: 60_000 })
      expect(claimed.map((c) => c.id).sort()).toEqual([q.id, f.id, d.id].sort())
      expect(claimed.find((c) => c.id === f.id)).toMatchObject({
        pendingRecipients: ['carl@example.org'],
        backoffStep: 0,
      })
    })

    test('removes messages by id or filter, with everything that belongs to them', async () => {
      const { q, s, f } = await mixedQueue()
      expect(await store.remove({ ids: [q.id, 'missing'] })).toEqual([q.id])
      expect(await store.getMessage(q.id)).toBeNull()
      expect(await store.getRaw(q.id)).toBeNull()
      expect(await store.remove({ filter: { status: ['failed'] } })).toEqual([f.id])
      expect((await store.listMessages({}, { limit: 10 })).messages.map((m) => m.id)).not.toContain(
        f.id,
      )
      expect(await store.getMessage(s.id)).not.toBeNull()
    })

    test('purges only finished messages older than asked', async () => {
      const { q, s, f, d } = await mixedQueue()
      expect(
        await store.purge({
          finishedBefore: new Date(Date.now() - 60_000),
          statuses: ['sent', 'failed'],
        }),
      ).toBe(0)
      expect(
        await store.purge({ finishedBefore: new Date(Date.now() + 1000), statuses: ['sent'] }),
      ).toBe(1)
      expect(await store.getMessage(s.id)).toBeNull()
      expect(await store.getMessage(f.id)).not.toBeNull()
      expect(
        await store.purge({
          finishedBefore: new Date(Date.now() + 1000),
          statuses: ['sent', 'failed'],
        }),
      ).toBe(1)
      expect(await store.getMessage(q.id)).not.toBeNull()
      expect(await store.getMessage(d.id)).not.toBeNull()
    })

    test('reports stats', async () => {
      const { q } = await mixedQueue()
      const stats = await store.stats()
      expect(stats.counts).toEqual({
        queued: 1,
        sending: 0,
        deferred: 1,
        sent: 1,
        failed: 1,
        held: 0,
      })
      expect(stats).toMatchObject({
        sentLastHour: 1,
        sentLastDay: 1,
        failedLastHour: 1,
        failedLastDay: 1,
      })
      expect(stats.oldestWaitingAt!.getTime()).toBe(
        (await store.getMessage(q.id))!.createdAt.getTime(),
      )
    })

    test('reports an upstream problem until something is delivered after it', async () => {
      expect((await store.stats()).upstreamProblem).toBeNull()
      const [a, b, c] = [newMessage(), newMessage(), newMessage()]
      await store.enqueue([a, b, c])
      await store.claim({ owner: 'w', limit: 10, leaseMs: 60_000 })
      const waiting = (id: string, outcome: 'upstream-down' | 'misconfigured', error: string) =>
        completion(id, 'w', {
          status: 'deferred',
          dueAt: new Date(Date.now() + 60_000),
          waitingForUpstream: true,
          reason: outcome === 'misconfigured' ? 'upstream-misconfigured' : 'upstream-down',
          recipients: [],
          attempt: { ...completion(id, 'w').attempt, outcome, error, recipients: [] },
        })
      await store.complete(waiting(a.id, 'upstream-down', 'connect ECONNREFUSED'))
      expect((await store.stats()).upstreamProblem).toMatchObject({
        kind: 'unreachable',
        error: 'connect ECONNREFUSED',
      })
      await sleep(5)
      const before = Date.now()
      await store.complete(
        waiting(b.id, 'misconfigured', 'upstream misconfigured: expired (CERT_HAS_EXPIRED)'),
      )
      const problem = (await store.stats()).upstreamProblem
      expect(problem).toMatchObject({
        kind: 'misconfigured',
        error: 'upstream misconfigured: expired (CERT_HAS_EXPIRED)',
      })
      expect(Math.abs(problem!.at.getTime() - before)).toBeLessThan(5000)
      // Another process sees it the same way.
      const other = await options.reopen(store)
      extra.push(other)
      expect((await other.stats()).upstreamProblem?.kind).toBe('misconfigured')

      await sleep(5)
      await store.complete(completion(c.id, 'w'))
      expect((await store.stats()).upstreamProblem).toBeNull()
    })

    test('reports activity per time bucket and the last success and error', async () => {
      const empty = await store.activity({
        since: new Date(Date.now() - 3_600_000),
        bucketMs: 60_000,
      })
      expect(empty).toEqual({ buckets: [], lastSuccessAt: null, lastError: null })

      const start = Date.now()
      await mixedQueue()
      const activity = await store.activity({ since: new Date(start - 120_000), bucketMs: 60_000 })
      const total = activity.buckets.reduce(
        (sum, b) => ({
          sent: sum.sent + b.sent,
          failed: sum.failed + b.failed,
          deferred: sum.deferred + b.deferred,
        }),
        { sent: 0, failed: 0, deferred: 0 },
      )
      expect(total).toEqual({ sent: 1, failed: 1, deferred: 1 })
      for (const bucket of activity.buckets) {
        expect(bucket.at.getTime() % 60_000).toBe(0)
        expect(bucket.at.getTime()).toBeGreaterThanOrEqual(start - 60_000)
      }
      expect(activity.lastSuccessAt!.getTime()).toBeGreaterThanOrEqual(start - 1000)
      expect(typeof activity.lastError?.error).toBe('string')

      const later = await store.activity({ since: new Date(Date.now() + 60_000), bucketMs: 60_000 })
      expect(later.buckets).toEqual([])
    })
  })
  runShapingContract(name, options)
  runSuppressionContract(name, options)
  runEventContract(name, options)
  runTemplateContract(name, options)
}
