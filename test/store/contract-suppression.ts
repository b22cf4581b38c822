import { afterEach, beforeEach, describe, expect } from 'vitest'
import type { Store, SuppressionInput } from '../../src/store/store.js'
import { completion, contractTest, newMessage, type StoreContractOptions } from './contract.js'

/**
 * The part of the Store contract that keeps mail away from bad addresses: the suppression list,
 * recipients found on it at enqueue, and feedback (bounces, complaints) recorded on a recipient
 * after delivery. Run by {@link runStoreContract} for every backend.
 */
export function runSuppressionContract(name: string, options: StoreContractOptions): void {
  const test = contractTest(options)

  describe(`Store contract, suppression and feedback: ${name}`, () => {
    let store: Store
    const extra: Store[] = []
    beforeEach(async () => {
      store = await options.newStore()
    })
    afterEach(async () => {
      for (const s of extra.splice(0)) await s.close()
      await store.close()
    })

    const entry = (address: string, over: Partial<SuppressionInput> = {}): SuppressionInput => ({
      address,
      reason: 'rejected',
      reply: '550 5.1.1 no such user',
      messageId: null,
      ...over,
    })

    test('suppress stores lower-cased addresses, counts the new ones, and updates known ones', async () => {
      expect(await store.suppress([entry('Ann@Example.COM'), entry('bob@example.com')])).toBe(2)
      expect(
        await store.suppress([entry('ann@example.com', { reason: 'bounced', reply: 'later' })]),
      ).toBe(0)
      const found = await store.findSuppressions(['ANN@example.com', 'nobody@example.com'])
      expect(found).toHaveLength(1)
      expect(found[0]).toMatchObject({
        address: 'ann@example.com',
        reason: 'bounced',
        reply: 'later',
        messageId: null,
      })
      expect(found[0]!.createdAt).toBeInstanceOf(Date)
      expect(Math.abs(found[0]!.createdAt.getTime() - Date.now())).toBeLessThan(60_000)
      // Another connection (another process) sees the same list.
      const other = await options.reopen(store)
      extra.push(other)
      expect((await other.findSuppressions(['bob@example.com']))[0]?.address).toBe(
        'bob@example.com',
      )
    })

    test('unsuppress takes addresses off in any case and counts those that were on', async () => {
      await store.suppress([entry('a@example.com'), entry('b@example.com')])
      expect(await store.unsuppress(['A@EXAMPLE.COM', 'c@example.com'])).toBe(1)
      expect(
        (await store.findSuppressions(['a@example.com', 'b@example.com'])).map((s) => s.address),
      ).toEqual(['b@example.com'])
    })

    test('listSuppressions pages in address order, searches, and counts every match', async () => {
      const addresses = Array.from(
        { length: 25 },
        (_, i) => `user${String(i).padStart(2, '0')}@example.com`,
      )
      await store.suppress([
        ...addresses.map((a) => entry(a)),
        entry('someone@other.org', { reason: 'manual', reply: null, messageId: 'q1' }),
      ])
      const seen: string[] = []
      let cursor: string | null = null
      for (let page = 0; page < 10; page++) {
        const result = await store.listSuppressions({ search: 'example.com', limit: 10, cursor })
        expect(result.total).toBe(25)
        seen.push(...result.entries.map((e) => e.address))
        cursor = result.nextCursor
        if (!cursor) break
      }
      expect(seen).toEqual(addresses)
      const other = await store.listSuppressions({ search: 'OTHER', limit: 10 })
      expect(other.total).toBe(1)
      expect(other.entries[0]).toMatchObject({ reason: 'manual', reply: null, messageId: 'q1' })
      expect((await store.listSuppressions({ limit: 100 })).total).toBe(26)
      // A search is text, not a pattern.
      expect((await store.listSuppressions({ search: '%', limit: 10 })).total).toBe(0)
      expect((await store.listSuppressions({ search: 'user_1', limit: 10 })).total).toBe(0)
    })

    test('suppress takes thousands of addresses at once', async () => {
      const many = Array.from({ length: 2500 }, (_, i) => entry(`bulk${i}@example.com`))
      expect(await store.suppress(many)).toBe(2500)
      expect(await store.suppress(many)).toBe(0)
      expect((await store.listSuppressions({ limit: 1 })).total).toBe(2500)
      expect(await store.findSuppressions(many.map((m) => m.address))).toHaveLength(2500)
    })

    test('recipients on the list at enqueue are stored failed with their reply; the others stay pending', async () => {
      await store.suppress([entry('B@example.com', { reply: '550 5.1.1 gone' })])
      const m = newMessage({
        envelope: { from: 's@example.com', to: ['a@example.com', 'B@Example.com'] },
        checkSuppression: true,
      })
      const unchecked = newMessage({ checkSuppression: false })
      const [result, other] = await store.enqueue([m, unchecked])
      expect(result).toMatchObject({ duplicate: false, suppressed: ['B@Example.com'] })
      expect(other!.suppressed).toEqual([])
      const detail = await store.getMessage(m.id)
      expect(detail!.status).toBe('queued')
      expect(detail!.recipientStatus).toEqual([
        { address: 'a@example.com', status: 'pending', code: null, reply: null },
        {
          address: 'B@Example.com',
          status: 'failed',
          code: null,
          reply: 'suppressed (rejected: 550 5.1.1 gone)',
        },
      ])
      expect((await store.getMessage(unchecked.id))!.recipientStatus.map((r) => r.status)).toEqual([
        'pending',
        'pending',
      ])
      const claimed = await store.claim({ owner: 'w1', limit: 10, leaseMs: 60_000 })
      const mine = claimed.find((c) => c.id === m.id)!
      expect(mine.pendingRecipients).toEqual(['a@example.com'])
      expect(mine.failedRecipients).toBe(1)
      // A duplicate (same idempotency key) reports none: nothing new was stored.
      const keyed = newMessage({ idempotencyKey: 'k1', checkSuppression: true })
      await store.enqueue([keyed])
      const [again] = await store.enqueue([
        newMessage({ idempotencyKey: 'k1', checkSuppression: true }),
      ])
      expect(again).toMatchObject({ id: keyed.id, duplicate: true, suppressed: [] })
    })

    test('a message whose every recipient is on the list is stored failed, never leased nor claimed', async () => {
      await store.suppress([
        entry('a@example.com', { reason: 'bounced', reply: null }),
        entry('b@example.com'),
      ])
      const m = newMessage({ checkSuppression: true })
      const leased = newMessage({
        checkSuppression: true,
        leaseTo: { owner: 'now-owner', leaseMs: 60_000 },
      })
      const plain = newMessage()
      const results = await store.enqueue([m, leased, plain])
      expect(results.map((r) => r.suppressed)).toEqual([
        ['a@example.com', 'b@example.com'],
        ['a@example.com', 'b@example.com'],
        [],
      ])
      for (const id of [m.id, leased.id]) {
        const detail = await store.getMessage(id)
        expect(detail!.status).toBe('failed')
        expect(detail!.reason).toBe('suppressed')
        expect(detail!.lastError).toBe('suppressed (bounced)')
        expect(detail!.dueAt).toBeNull()
        expect(detail!.leaseOwner).toBeNull()
        expect(detail!.finishedAt).toBeInstanceOf(Date)
        expect(detail!.recipientStatus.map((r) => r.status)).toEqual(['failed', 'failed'])
      }
      expect((await store.countByStatus()).failed).toBe(2)
      expect((await store.stats()).failedLastHour).toBe(2)
      const claimed = await store.claim({ owner: 'w1', limit: 10, leaseMs: 60_000 })
      expect(claimed.map((c) => c.id)).toEqual([plain.id])
    })

    test('recordFeedback marks the recipient bounced or complained with the reply', async () => {
      const m = newMessage({
        envelope: { from: 's@example.com', to: ['A@example.com', 'b@example.com'] },
      })
      await store.enqueue([m])
      await store.claim({ owner: 'w1', limit: 1, leaseMs: 60_000 })
      await store.complete(
        completion(m.id, 'w1', {
          recipients: [
            { address: 'A@example.com', status: 'sent', code: 250, reply: '250 ok' },
            { address: 'b@example.com', status: 'sent', code: 250, reply: '250 ok' },
          ],
        }),
      )
      expect(
        await store.recordFeedback([
          {
            id: m.id,
            address: 'a@EXAMPLE.com',
            kind: 'bounced',
            code: 550,
            reply: '550 5.1.1 gone',
          },
          { id: m.id, address: 'b@example.com', kind: 'complained', code: null, reply: 'abuse' },
          { id: m.id, address: 'nobody@example.com', kind: 'bounced', code: 550, reply: 'x' },
          {
            id: 'no-such-message',
            address: 'a@example.com',
            kind: 'bounced',
            code: 550,
            reply: 'x',
          },
        ]),
      ).toBe(2)
      const detail = await store.getMessage(m.id)
      expect(detail!.status).toBe('sent')
      expect(detail!.recipientStatus).toEqual([
        { address: 'A@example.com', status: 'bounced', code: 550, reply: '550 5.1.1 gone' },
        { address: 'b@example.com', status: 'complained', code: null, reply: 'abuse' },
      ])
      // Feedback settles nothing again: a retry of the message finds nothing to requeue.
      expect(await store.retry({ ids: [m.id] }, { maxAgeMs: 60_000 })).toEqual([])
    })
  })
}
