import { afterEach, beforeEach, describe, expect } from 'vitest'
import type { EventType, Store, StoredEvent } from '../../src/store/store.js'
import { sleep } from '../helpers/temp.js'
import { completion, contractTest, newMessage, type StoreContractOptions } from './contract.js'

/** Reads the whole log after `after`, a page at a time (bounded). */
async function readAll(
  store: Store,
  after: string | null = null,
  types?: EventType[],
): Promise<{ events: StoredEvent[]; cursor: string | null }> {
  const events: StoredEvent[] = []
  let cursor = after
  for (let page = 0; page < 1000; page++) {
    const read = await store.readEvents({ after: cursor, limit: 50, ...(types ? { types } : {}) })
    events.push(...read.events)
    if (read.cursor === cursor && read.events.length === 0) break
    cursor = read.cursor
    if (read.events.length < 50) break
  }
  return { events, cursor }
}

/** `type` or `type:recipient` of each event of message `id`, in order. */
const trail = (events: readonly StoredEvent[], id: string) =>
  events.filter((e) => e.id === id).map((e) => (e.recipient ? `${e.type}:${e.recipient}` : e.type))

/**
 * Checks a trail change by change: `groups` are the events of each change (one transaction) in
 * order, and a backend may write one change's recipient and message events in either order.
 */
function expectChanges(got: readonly string[], groups: readonly (readonly string[])[]): void {
  const chunks: string[][] = []
  let at = 0
  for (const group of groups) {
    chunks.push([...got.slice(at, at + group.length)].sort())
    at += group.length
  }
  expect({ chunks, rest: got.slice(at) }).toEqual({
    chunks: groups.map((g) => [...g].sort()),
    rest: [],
  })
}

/**
 * The event log: every state change writes its event in the same transaction, read back in
 * order, and durable consumers (webhook endpoints) leased to one process at a time. Run by
 * {@link runStoreContract} for every backend.
 */
export function runEventContract(name: string, options: StoreContractOptions): void {
  const test = contractTest(options)

  describe(`Store contract, event log: ${name}`, () => {
    let store: Store
    const extra: Store[] = []
    beforeEach(async () => {
      store = await options.newStore()
    })
    afterEach(async () => {
      for (const s of extra.splice(0)) await s.close()
      await store.close()
    })

    const claimOne = async (id: string, owner = 'w1') => {
      const claimed = await store.claim({ owner, limit: 10, leaseMs: 60_000 })
      expect(claimed.map((c) => c.id)).toContain(id)
    }

    test('an enqueue writes queued, a delivery a sent event per recipient', async () => {
      const m = newMessage({ tags: ['receipt'], priority: 'high' })
      await store.enqueue([m])
      await claimOne(m.id)
      const c = completion(m.id, 'w1')
      c.attempt.upstream = 'eu'
      expect(await store.complete(c)).toBe(true)
      const { events } = await readAll(store)
      expect(trail(events, m.id)).toEqual(['queued', 'sent:a@example.com', 'sent:b@example.com'])
      const [queued, sent] = events
      expect(queued!.data).toMatchObject({
        messageId: m.messageId,
        from: 'sender@example.com',
        to: ['a@example.com', 'b@example.com'],
        subject: m.subject,
        tags: ['receipt'],
        priority: 'high',
      })
      expect(new Date(String(queued!.data.dueAt)).getTime()).toBeGreaterThan(Date.now() - 60_000)
      expect(sent!.data).toEqual({ code: 250, reply: '250 ok', upstream: 'eu' })
      expect(sent!.at).toBeInstanceOf(Date)
      expect(Math.abs(sent!.at.getTime() - Date.now())).toBeLessThan(60_000)
      // Positions increase.
      const seqs = events.map((e) => e.seq)
      expect(new Set(seqs).size).toBe(seqs.length)
      // Another connection (another process) reads the same log.
      const other = await options.reopen(store)
      extra.push(other)
      expect((await readAll(other)).events.map((e) => e.seq)).toEqual(seqs)
    })

    test('a partial delivery: sent for one recipient, deferred for the message; then failed', async () => {
      const m = newMessage()
      await store.enqueue([m])
      await claimOne(m.id)
      const dueAt = new Date(Date.now() + 60_000)
      await store.complete(
        completion(m.id, 'w1', {
          recipients: [{ address: 'a@example.com', status: 'sent', code: 250, reply: '250 ok' }],
          status: 'deferred',
          dueAt,
          countsTowardBackoff: true,
          reason: 'temporary',
          attempt: {
            worker: 'w1',
            startedAt: new Date(),
            durationMs: 3,
            outcome: 'partial',
            error: '451 try later',
            recipients: [],
          },
        }),
      )
      await store.retry({ ids: [m.id] }, { maxAgeMs: 86_400_000 })
      await claimOne(m.id)
      await store.complete(
        completion(m.id, 'w1', {
          recipients: [
            {
              address: 'b@example.com',
              status: 'failed',
              code: 550,
              reply: '550 5.1.1 no such user',
            },
          ],
          status: 'failed',
          reason: 'rejected',
        }),
      )
      const { events } = await readAll(store)
      expectChanges(trail(events, m.id), [
        ['queued'],
        ['sent:a@example.com', 'deferred'],
        ['failed:b@example.com'],
      ])
      const deferred = events.find((e) => e.type === 'deferred')!
      expect(deferred.data).toMatchObject({
        reason: 'temporary',
        error: '451 try later',
        attempts: 1,
      })
      expect(
        Math.abs(new Date(String(deferred.data.dueAt)).getTime() - dueAt.getTime()),
      ).toBeLessThan(5_000)
      expect(events.find((e) => e.type === 'failed')!.data).toEqual({
        code: 550,
        reply: '550 5.1.1 no such user',
      })
    })

    test('claims, released leases and a lost lease write nothing', async () => {
      const m = newMessage()
      await store.enqueue([m])
      await claimOne(m.id)
      await store.releaseLeases('w1', [m.id])
      await claimOne(m.id, 'w2')
      // w1 no longer holds it: its outcome is refused, and no event says otherwise.
      expect(await store.complete(completion(m.id, 'w1'))).toBe(false)
      await store.releaseLeases('w2', [m.id], [60_000])
      expect(trail((await readAll(store)).events, m.id)).toEqual(['queued'])
    })

    test('hold, release, retry of a failed message, delete, and expiry each write their event', async () => {
      const held = newMessage()
      const failed = newMessage()
      const expiring = newMessage({ maxAgeMs: 1 })
      await store.enqueue([held, failed, expiring])
      expect(await store.hold({ ids: [held.id] })).toEqual([held.id])
      expect(await store.unhold({ ids: [held.id] })).toEqual([held.id])
      await store.claim({ owner: 'w1', limit: 10, leaseMs: 60_000 })
      await store.complete(
        completion(failed.id, 'w1', {
          recipients: [
            { address: 'a@example.com', status: 'failed', code: 550, reply: '550 no' },
            { address: 'b@example.com', status: 'failed', code: 550, reply: '550 no' },
          ],
          status: 'failed',
          reason: 'rejected',
        }),
      )
      await store.complete(
        completion(expiring.id, 'w1', {
          recipients: [],
          status: 'deferred',
          dueAt: new Date(Date.now() + 1),
          countsTowardBackoff: true,
          reason: 'temporary',
        }),
      )
      expect(await store.retry({ ids: [failed.id] }, { maxAgeMs: 86_400_000 })).toEqual([failed.id])
      await sleep(20)
      expect(await store.expireOverdue()).toBeGreaterThanOrEqual(1)
      expect(await store.remove({ ids: [held.id] })).toEqual([held.id])
      const { events } = await readAll(store)
      expect(trail(events, held.id)).toEqual(['queued', 'held', 'released', 'deleted'])
      expect(trail(events, failed.id)).toEqual([
        'queued',
        'failed:a@example.com',
        'failed:b@example.com',
        'retried',
      ])
      expectChanges(trail(events, expiring.id), [
        ['queued'],
        ['deferred'],
        ['failed:a@example.com', 'failed:b@example.com', 'expired'],
      ])
      expect(events.filter((e) => e.type === 'deleted')[0]!.data).toEqual({})
    })

    test('suppressed recipients at enqueue and feedback after delivery write their events', async () => {
      await store.suppress([
        { address: 'b@example.com', reason: 'rejected', reply: '550 5.1.1 gone', messageId: null },
      ])
      const m = newMessage({ checkSuppression: true })
      const [result] = await store.enqueue([m])
      expect(result!.suppressed).toEqual(['b@example.com'])
      await claimOne(m.id)
      await store.complete(
        completion(m.id, 'w1', {
          recipients: [{ address: 'a@example.com', status: 'sent', code: 250, reply: '250 ok' }],
        }),
      )
      expect(
        await store.recordFeedback([
          {
            id: m.id,
            address: 'A@example.com',
            kind: 'bounced',
            code: 550,
            reply: '550 mailbox gone',
          },
        ]),
      ).toBe(1)
      const { events } = await readAll(store)
      expect(trail(events, m.id)).toEqual([
        'queued',
        'suppressed:b@example.com',
        'sent:a@example.com',
        'bounced:a@example.com',
      ])
      expect(events.find((e) => e.type === 'bounced')!.data).toEqual({
        code: 550,
        reply: '550 mailbox gone',
      })
      expect(String(events.find((e) => e.type === 'suppressed')!.data.reply)).toMatch(/^suppressed/)
    })

    test('reading filters by type, pages, and moves its cursor past what it skipped', async () => {
      const ms = [newMessage(), newMessage(), newMessage()]
      await store.enqueue(ms)
      await store.hold({ ids: [ms[1]!.id] })
      const first = await store.readEvents({ after: null, limit: 2 })
      expect(first.events.map((e) => e.type)).toEqual(['queued', 'queued'])
      const second = await store.readEvents({ after: first.cursor, limit: 10 })
      expect(second.events.map((e) => e.type)).toEqual(['queued', 'held'])
      // Nothing new: the cursor stays.
      expect(await store.readEvents({ after: second.cursor, limit: 10 })).toEqual({
        events: [],
        cursor: second.cursor,
      })
      const heldOnly = await store.readEvents({ after: null, types: ['held'], limit: 10 })
      expect(heldOnly.events.map((e) => e.id)).toEqual([ms[1]!.id])
      expect(heldOnly.cursor).toBe(second.cursor)
      const none = await store.readEvents({ after: null, types: ['bounced'], limit: 10 })
      expect(none).toEqual({ events: [], cursor: second.cursor })
      expect(await store.countEvents({ after: null })).toBe(4)
      expect(await store.countEvents({ after: first.cursor, types: ['held'] })).toBe(1)
      expect(await store.eventPosition('end')).toBe(second.cursor)
    })

    test('eventPosition finds where an hour ago begins', async () => {
      expect(await store.eventPosition('end')).toBeNull()
      expect(await store.eventPosition(new Date())).toBeNull()
      await store.enqueue([newMessage()])
      const before = await store.eventPosition(new Date(Date.now() - 3_600_000))
      expect((await store.readEvents({ after: before, limit: 10 })).events).toHaveLength(1)
      await sleep(5)
      const middle = new Date()
      await sleep(5)
      const later = newMessage()
      await store.enqueue([later])
      const from = await store.eventPosition(middle)
      expect((await store.readEvents({ after: from, limit: 10 })).events.map((e) => e.id)).toEqual([
        later.id,
      ])
      const end = await store.eventPosition(new Date(Date.now() + 60_000))
      expect(end).toBe(await store.eventPosition('end'))
    })

    test("a purge takes its messages' events; retention takes old ones", async () => {
      const kept = newMessage()
      const purged = newMessage()
      await store.enqueue([purged])
      await claimOne(purged.id)
      await store.complete(completion(purged.id, 'w1'))
      await store.enqueue([kept])
      await sleep(5)
      expect(
        await store.purge({ finishedBefore: new Date(Date.now() + 1000), statuses: ['sent'] }),
      ).toBe(1)
      const { events } = await readAll(store)
      expect(trail(events, purged.id)).toEqual([])
      expect(trail(events, kept.id)).toEqual(['queued'])
      expect(await store.purgeEvents(new Date(Date.now() + 1000))).toBe(1)
      expect((await readAll(store)).events).toEqual([])
      // Positions are never handed out again after the newest events are purged.
      const next = newMessage()
      await store.enqueue([next])
      const after = (await readAll(store)).events
      expect(after).toHaveLength(1)
      expect(BigInt(after[0]!.seq.replace(/\D/g, '') || '0')).toBeGreaterThan(0n)
      expect(after[0]!.seq).not.toBe(events.at(-1)!.seq)
    })

    test('every event of concurrent writers from two connections is read exactly once, in order per message', async () => {
      const other = await options.reopen(store)
      extra.push(other)
      let cursor: string | null = await store.eventPosition('end')
      const seen: StoredEvent[] = []
      const messages = Array.from({ length: 60 }, () => newMessage())
      const writes = Promise.all(
        messages.map(async (m, i) => {
          const s = i % 2 === 0 ? store : other
          await s.enqueue([m])
          if (i % 3 === 0) await s.hold({ ids: [m.id] })
        }),
      )
      let done = false
      void writes.then(() => (done = true))
      // Read while they write; then once more after.
      for (let round = 0; round < 2000 && !done; round++) {
        const page = await store.readEvents({ after: cursor, limit: 7 })
        seen.push(...page.events)
        cursor = page.cursor
        if (page.events.length === 0) await sleep(2)
      }
      await writes
      const rest = await readAll(store, cursor)
      seen.push(...rest.events)
      const seqs = seen.map((e) => e.seq)
      expect(new Set(seqs).size).toBe(seqs.length)
      for (const [i, m] of messages.entries()) {
        expect(trail(seen, m.id)).toEqual(i % 3 === 0 ? ['queued', 'held'] : ['queued'])
      }
    })

    test('a consumer is leased to one owner at a time and keeps its place', async () => {
      const first = await store.leaseConsumer({ name: 'webhook:a', owner: 'p1', leaseMs: 60_000 })
      expect(first).toMatchObject({
        name: 'webhook:a',
        cursor: null,
        state: {},
        leaseOwner: 'p1',
        retryRequests: 0,
      })
      expect(first!.leaseExpiresAt!.getTime()).toBeGreaterThan(Date.now() + 30_000)
      expect(
        await store.leaseConsumer({ name: 'webhook:a', owner: 'p2', leaseMs: 60_000 }),
      ).toBeNull()
      // Its owner leases it again (a renewal).
      expect(
        await store.leaseConsumer({ name: 'webhook:a', owner: 'p1', leaseMs: 60_000 }),
      ).not.toBeNull()
      expect(
        await store.saveConsumer({
          name: 'webhook:a',
          owner: 'p1',
          cursor: '17',
          state: { attempts: 2, lastError: 'refused' },
          leaseMs: 60_000,
        }),
      ).toBe(true)
      expect(
        await store.saveConsumer({
          name: 'webhook:a',
          owner: 'p2',
          cursor: '99',
          state: {},
          leaseMs: 1,
        }),
      ).toBe(false)
      // Given up (lease 0): another owner takes it over where it was.
      await store.saveConsumer({
        name: 'webhook:a',
        owner: 'p1',
        cursor: '18',
        state: { attempts: 0 },
        leaseMs: 0,
      })
      const other = await options.reopen(store)
      extra.push(other)
      const taken = await other.leaseConsumer({ name: 'webhook:a', owner: 'p2', leaseMs: 60_000 })
      expect(taken).toMatchObject({ cursor: '18', state: { attempts: 0 }, leaseOwner: 'p2' })
      await other.leaseConsumer({ name: 'webhook:b', owner: 'p2', leaseMs: 30 })
      await sleep(60)
      // An expired lease is taken over.
      expect(
        await store.leaseConsumer({ name: 'webhook:b', owner: 'p1', leaseMs: 60_000 }),
      ).not.toBeNull()
      expect(await store.requestConsumerRetry(['webhook:a', 'webhook:zz'])).toBe(1)
      expect(await store.requestConsumerRetry(null)).toBe(2)
      const all = await store.consumers()
      expect(all.map((c) => [c.name, c.retryRequests, c.leaseOwner])).toEqual([
        ['webhook:a', 2, 'p2'],
        ['webhook:b', 1, 'p1'],
      ])
      expect(all[0]!.updatedAt).toBeInstanceOf(Date)
    })
  })
}
