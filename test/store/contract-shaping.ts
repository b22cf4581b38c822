import { afterEach, beforeEach, describe, expect } from 'vitest'
import { RECOVERY_SHARE, THROTTLE_WINDOW_MS } from '../../src/store/rate-bucket.js'
import type {
  RateBucketRef,
  RateBucketState,
  Store,
  TokenRequest,
  UpstreamReport,
} from '../../src/store/store.js'
import { waitUntil } from '../helpers/temp.js'
import { completion, contractTest, newMessage, type StoreContractOptions } from './contract.js'

/**
 * The part of the Store contract that shapes traffic: rate-limit tokens shared by every worker,
 * adaptive throttling, leases given back for later, upstreams named per message and per
 * attempt, and what each worker reports of its upstreams. Run by {@link runStoreContract} for
 * every backend.
 */
export function runShapingContract(name: string, options: StoreContractOptions): void {
  const test = contractTest(options)

  describe(`Store contract, traffic shaping: ${name}`, () => {
    let store: Store
    const extra: Store[] = []
    beforeEach(async () => {
      store = await options.newStore()
    })
    afterEach(async () => {
      for (const s of extra.splice(0)) await s.close()
      await store.close()
    })

    const bucket = (key: string, ratePerSec: number): RateBucketRef => ({ key, ratePerSec })
    const ask = (buckets: RateBucketRef[], maxWaitMs: number): TokenRequest => ({
      buckets,
      maxWaitMs,
    })
    const bucketState = async (key: string): Promise<RateBucketState | undefined> =>
      (await store.rateBuckets()).find((b) => b.key === key)

    test('releasing with delays makes messages due later, keeping status and attempts', async () => {
      const fresh = newMessage()
      const retried = newMessage()
      const atOnce = newMessage()
      await store.enqueue([fresh, retried, atOnce])
      await store.claim({ owner: 'w1', limit: 10, leaseMs: 60_000 })
      // `retried` has had one attempt: it goes back deferred, with that attempt counted.
      await store.complete(
        completion(retried.id, 'w1', {
          status: 'deferred',
          dueAt: new Date(Date.now() - 1),
          countsTowardBackoff: true,
          recipients: [],
          attempt: { ...completion(retried.id, 'w1').attempt, outcome: 'deferred', recipients: [] },
        }),
      )
      expect(
        (await store.claim({ owner: 'w1', limit: 10, leaseMs: 60_000 })).map((c) => c.id),
      ).toEqual([retried.id])

      // Generous margins: on a loaded machine any step here may take a few hundred ms.
      const releasedFrom = Date.now()
      await store.releaseLeases('w1', [fresh.id, retried.id, atOnce.id], [1500, 1500, 0])
      const releasedBy = Date.now()
      expect(await store.getMessage(fresh.id)).toMatchObject({
        status: 'queued',
        attempts: 0,
        leaseOwner: null,
      })
      expect(await store.getMessage(retried.id)).toMatchObject({
        status: 'deferred',
        attempts: 1,
        leaseOwner: null,
      })
      const dueAt = (await store.getMessage(fresh.id))!.dueAt!.getTime()
      expect(dueAt).toBeGreaterThanOrEqual(releasedFrom + 1500 - 250)
      expect(dueAt).toBeLessThanOrEqual(releasedBy + 1500 + 250)

      // A zero delay is due at once; the others are not.
      expect(
        (await store.claim({ owner: 'w2', limit: 10, leaseMs: 60_000 })).map((c) => c.id),
      ).toEqual([atOnce.id])
      const next = await store.msUntilNextDue()
      expect(next).toBeGreaterThan(0)
      expect(next).toBeLessThanOrEqual(1500)

      let claimedAt = 0
      let claimed: Awaited<ReturnType<Store['claim']>> = []
      await waitUntil(
        async () => {
          claimed = await store.claim({ owner: 'w2', limit: 10, leaseMs: 60_000 })
          claimedAt = Date.now()
          return claimed.length > 0
        },
        20_000,
        'the delayed messages to become claimable',
      )
      // Never early (a few ms of slack for the store's clock resolution).
      expect(claimedAt).toBeGreaterThanOrEqual(releasedFrom + 1500 - 5)
      if (claimed.length < 2)
        claimed.push(...(await store.claim({ owner: 'w2', limit: 10, leaseMs: 60_000 })))
      const byId = new Map(claimed.map((c) => [c.id, c]))
      expect([...byId.keys()].sort()).toEqual([fresh.id, retried.id].sort())
      expect(byId.get(fresh.id)).toMatchObject({ attempts: 0, backoffStep: 0 })
      expect(byId.get(retried.id)).toMatchObject({ attempts: 1, backoffStep: 1 })
    })

    test('releasing with delays leaves alone what another owner holds', async () => {
      const m = newMessage()
      await store.enqueue([m])
      await store.claim({ owner: 'w1', limit: 1, leaseMs: 60_000 })
      await store.releaseLeases('w2', [m.id], [0])
      expect(await store.getMessage(m.id)).toMatchObject({ status: 'sending', leaseOwner: 'w1' })
    })

    test('keeps the upstream named at enqueue', async () => {
      const named = newMessage({ upstream: 'backup' })
      const routed = newMessage()
      const nulled = newMessage({ upstream: null })
      await store.enqueue([named, routed, nulled])
      expect(await store.getMessage(named.id)).toMatchObject({ upstream: 'backup' })
      expect(await store.getMessage(routed.id)).toMatchObject({ upstream: null })
      const listed = await store.listMessages({}, { limit: 10 })
      expect(new Map(listed.messages.map((m) => [m.id, m.upstream]))).toEqual(
        new Map([
          [named.id, 'backup'],
          [routed.id, null],
          [nulled.id, null],
        ]),
      )
      const claimed = await store.claim({ owner: 'w1', limit: 10, leaseMs: 60_000 })
      expect(new Map(claimed.map((c) => [c.id, c.upstream]))).toEqual(
        new Map([
          [named.id, 'backup'],
          [routed.id, null],
          [nulled.id, null],
        ]),
      )
    })

    test('hands a claimed message back with its tags', async () => {
      const tagged = newMessage({ tags: ['receipt', 'eu'] })
      const plain = newMessage({ tags: [] })
      const now = newMessage({
        tags: ['otp'],
        priority: 'now',
        leaseTo: { owner: 'sender', leaseMs: 60_000 },
      })
      await store.enqueue([tagged, plain, now])
      await store.releaseLeases('sender', [now.id])
      const claimed = await store.claim({ owner: 'w1', limit: 10, leaseMs: 60_000 })
      expect(new Map(claimed.map((c) => [c.id, c.tags]))).toEqual(
        new Map([
          [tagged.id, ['receipt', 'eu']],
          [plain.id, []],
          [now.id, ['otp']],
        ]),
      )
    })

    test('records the upstream of each attempt', async () => {
      const m = newMessage()
      await store.enqueue([m])
      await store.claim({ owner: 'w1', limit: 1, leaseMs: 60_000 })
      const base = completion(m.id, 'w1').attempt
      await store.complete(
        completion(m.id, 'w1', {
          status: 'deferred',
          dueAt: new Date(Date.now() - 1),
          countsTowardBackoff: true,
          recipients: [],
          attempt: { ...base, outcome: 'deferred', recipients: [], upstream: 'primary' },
        }),
      )
      await store.claim({ owner: 'w1', limit: 1, leaseMs: 60_000 })
      // An attempt that names no upstream (an older worker) records null.
      await store.complete(completion(m.id, 'w1'))
      const log = (await store.getMessage(m.id))!.attemptLog
      expect(log.map((a) => [a.outcome, a.upstream])).toEqual([
        ['deferred', 'primary'],
        ['sent', null],
      ])
    })

    test('a fresh bucket grants one second of tokens at once, then reservations, then no', async () => {
      const b = bucket('upstream:main', 5)
      // One call: its requests run in order on one transaction, so timing cannot blur them.
      const asked = Date.now()
      const grants = await store.takeTokens([
        ...Array.from({ length: 5 }, () => ask([b], 0)),
        ...Array.from({ length: 6 }, () => ask([b], 1000)),
        ask([b], 0),
      ])
      expect(grants).toHaveLength(12)
      for (const grant of grants.slice(0, 5))
        expect(grant).toEqual({ granted: true, waitMs: 0, rates: [5] })
      // Reserved one after another, 200 ms apart (5/s), up to the 1000 ms the asker would wait.
      const reserved = grants.slice(5, 10)
      expect(reserved.map((g) => g.granted)).toEqual([true, true, true, true, true])
      reserved.forEach((grant, i) => {
        expect(grant.waitMs).toBeLessThanOrEqual(200 * (i + 1))
        expect(grant.waitMs).toBeGreaterThan(200 * (i + 1) - 100)
        expect(grant.rates).toEqual([5])
      })
      // Beyond it: nothing taken, and told when to ask again: refused asks are handed turns
      // one after another, spaced at the rate, so that they do not all come back at once.
      const [first, second] = grants.slice(10)
      for (const refused of [first!, second!]) {
        expect(refused.granted).toBe(false)
        expect(refused.rates).toEqual([5])
      }
      expect(first!.waitMs).toBeGreaterThan(1000)
      expect(first!.waitMs).toBeLessThanOrEqual(1200)
      expect(second!.waitMs - first!.waitMs).toBeGreaterThanOrEqual(150)
      expect(second!.waitMs - first!.waitMs).toBeLessThanOrEqual(201)
      // The next turn is handed out by the store, whichever connection asks.
      const other = await options.reopen(store)
      extra.push(other)
      const [third] = await other.takeTokens([ask([b], 0)])
      const sinceFirst = Date.now() - asked
      expect(third!.granted).toBe(false)
      expect(third!.waitMs).toBeGreaterThanOrEqual(second!.waitMs + 200 - sinceFirst - 5)
      expect(third!.waitMs).toBeLessThanOrEqual(second!.waitMs + 201)
      const state = await bucketState('upstream:main')
      expect(state).toMatchObject({ key: 'upstream:main', rate: 5, throttledAt: null })
      // Ten taken from five: -5, refilled at 5/s since (a loaded machine takes a while to get here).
      expect(state!.tokens).toBeLessThan(-5 + (5 * (Date.now() - asked)) / 1000 + 0.05)
      expect(state!.tokens).toBeGreaterThanOrEqual(-5.05)
      expect(state!.updatedAt).toBeInstanceOf(Date)
      expect(Math.abs(state!.updatedAt.getTime() - Date.now())).toBeLessThan(5000)

      // The reservations hold across calls: the next token comes after all of them, 1200 ms
      // after the first call (six tokens at 5/s; a few ms of slack for the store's clock).
      await waitUntil(
        async () => (await store.takeTokens([ask([b], 0)]))[0]!.granted,
        20_000,
        'a token after the reservations',
      )
      expect(Date.now() - asked).toBeGreaterThanOrEqual(1200 - 20)
    })

    test('two connections sharing one bucket never grant more than its rate', async () => {
      const other = await options.reopen(store)
      extra.push(other)
      const b = bucket('domain:example.com', 10)
      const started = Date.now()
      const grants = await Promise.all(
        [store, other].flatMap((s) =>
          Array.from({ length: 20 }, () => s.takeTokens([ask([b], 0)])),
        ),
      )
      const elapsed = Date.now() - started
      const granted = grants.filter(([g]) => g!.granted).length
      expect(granted).toBeGreaterThanOrEqual(10)
      // The full bucket, plus what refilled while the asks ran (at 10/s), plus one for rounding.
      expect(granted).toBeLessThanOrEqual(10 + Math.floor((elapsed * 10) / 1000) + 1)
      for (const [g] of grants) if (!g!.granted) expect(g!.waitMs).toBeGreaterThan(0)
    })

    test('a request needing two buckets takes from both or from neither', async () => {
      const slow = bucket('domain:slow.example', 1)
      const fast = bucket('upstream:main', 5)
      const grants = await store.takeTokens([
        ask([slow, fast], 0), // both have tokens: taken from both
        ask([slow, fast], 0), // slow is empty: nothing taken, fast keeps its 4
        ask([fast], 0),
        ask([fast], 0),
        ask([fast], 0),
        ask([fast], 0),
        ask([fast], 0), // fast is empty now
      ])
      expect(grants.map((g) => g.granted)).toEqual([true, false, true, true, true, true, false])
      expect(grants[0]).toEqual({ granted: true, waitMs: 0, rates: [1, 5] })
      expect(grants[1]!.rates).toEqual([1, 5])
      // The wait is the longest of the two buckets': the slow one's full second.
      expect(grants[1]!.waitMs).toBeGreaterThan(800)
      expect(grants[1]!.waitMs).toBeLessThanOrEqual(1000)
      const slowState = await bucketState('domain:slow.example')
      const fastState = await bucketState('upstream:main')
      expect(slowState!.tokens).toBeLessThan(0.5)
      expect(slowState!.tokens).toBeGreaterThan(-0.5)
      expect(fastState!.tokens).toBeLessThan(0.5)
      expect(fastState!.tokens).toBeGreaterThan(-0.5)
    })

    test('throttling halves the rate once per window; accepted deliveries raise it back', async () => {
      const key = 'upstream:main'
      const configured = 10
      const throttle = { key, ratePerSec: configured, throttled: true }
      const accept = { key, ratePerSec: configured, throttled: false }
      // An accepted delivery on a bucket at its configured rate keeps it there.
      await store.adjustRates([accept])
      expect((await bucketState(key))?.rate ?? configured).toBe(configured)

      const throttledFrom = Date.now()
      await store.adjustRates([throttle])
      const halved = await bucketState(key)
      expect(halved).toMatchObject({ key, rate: configured / 2 })
      expect(halved!.throttledAt).toBeInstanceOf(Date)
      expect(Math.abs(halved!.throttledAt!.getTime() - throttledFrom)).toBeLessThan(5000)
      // The replies to one burst are one signal: no second halving within the window.
      await store.adjustRates([throttle, throttle])
      expect((await bucketState(key))!.rate).toBe(configured / 2)
      const [grant] = await store.takeTokens([ask([bucket(key, configured)], 10_000)])
      expect(grant!.rates).toEqual([configured / 2])

      // Each accepted delivery adds back a share of the configured rate.
      await store.adjustRates([accept, accept])
      const raised = configured / 2 + 2 * RECOVERY_SHARE * configured
      expect((await bucketState(key))!.rate).toBeCloseTo(raised, 6)
      const [after] = await store.takeTokens([ask([bucket(key, configured)], 10_000)])
      expect(after!.rates[0]).toBeCloseTo(raised, 6)

      // Once the window has passed, a throttling reply halves again.
      await waitUntil(
        async () => {
          await store.adjustRates([throttle])
          return (await bucketState(key))!.rate < raised - 1e-9
        },
        20_000,
        'a second halving after the throttle window',
      )
      expect(Date.now() - throttledFrom).toBeGreaterThanOrEqual(THROTTLE_WINDOW_MS - 5)
      expect((await bucketState(key))!.rate).toBeCloseTo(raised / 2, 6)

      // Recovery stops at the configured rate, never above it.
      await store.adjustRates(Array.from({ length: 40 }, () => accept))
      expect((await bucketState(key))!.rate).toBeCloseTo(configured, 6)
      // Another connection sees the same bucket.
      const other = await options.reopen(store)
      extra.push(other)
      expect((await other.rateBuckets()).find((b) => b.key === key)!.rate).toBeCloseTo(
        configured,
        6,
      )
    })

    test('starts with no buckets, reports and activity, and takes nothing for no requests', async () => {
      expect(await store.takeTokens([])).toEqual([])
      await store.adjustRates([])
      expect(await store.rateBuckets()).toEqual([])
      expect(await store.upstreamReports()).toEqual([])
      expect(await store.upstreamActivity(new Date(0))).toEqual([])
    })

    const report = (upstream: string, overrides: Partial<UpstreamReport> = {}): UpstreamReport => ({
      upstream,
      down: false,
      downSince: null,
      misconfigured: false,
      lastError: null,
      lastErrorAt: null,
      connections: 0,
      ...overrides,
    })
    const reportKeys = async (s: Store) =>
      (await s.upstreamReports()).map((r) => `${r.worker}/${r.upstream}`).sort()

    test('keeps what each worker reports of its upstreams, replacing it on every report', async () => {
      const downSince = new Date(Date.now() - 30_000)
      const lastErrorAt = new Date(Date.now() - 1000)
      const reportedFrom = Date.now()
      await store.reportUpstreams(
        'w1',
        [
          report('main', { connections: 3 }),
          report('backup', {
            down: true,
            downSince,
            misconfigured: true,
            lastError: 'connect ECONNREFUSED 127.0.0.1:25',
            lastErrorAt,
          }),
        ],
        60_000,
      )
      await store.reportUpstreams('w2', [report('main', { connections: 1 })], 60_000)
      const reports = await store.upstreamReports()
      expect(reports.map((r) => `${r.worker}/${r.upstream}`).sort()).toEqual([
        'w1/backup',
        'w1/main',
        'w2/main',
      ])
      const backup = reports.find((r) => r.worker === 'w1' && r.upstream === 'backup')!
      expect(backup).toMatchObject({
        down: true,
        misconfigured: true,
        lastError: 'connect ECONNREFUSED 127.0.0.1:25',
        connections: 0,
      })
      expect(backup.downSince).toBeInstanceOf(Date)
      expect(Math.abs(backup.downSince!.getTime() - downSince.getTime())).toBeLessThan(1000)
      expect(backup.lastErrorAt).toBeInstanceOf(Date)
      expect(Math.abs(backup.lastErrorAt!.getTime() - lastErrorAt.getTime())).toBeLessThan(1000)
      expect(backup.reportedAt).toBeInstanceOf(Date)
      expect(backup.reportedAt.getTime()).toBeGreaterThanOrEqual(reportedFrom - 1000)
      expect(backup.reportedAt.getTime()).toBeLessThanOrEqual(Date.now() + 1000)
      expect(reports.find((r) => r.worker === 'w1' && r.upstream === 'main')).toMatchObject({
        down: false,
        downSince: null,
        misconfigured: false,
        lastError: null,
        lastErrorAt: null,
        connections: 3,
      })

      // A new report replaces the worker's old one whole; another connection sees the same.
      await store.reportUpstreams('w1', [report('main', { connections: 5 })], 60_000)
      const other = await options.reopen(store)
      extra.push(other)
      expect(await reportKeys(other)).toEqual(['w1/main', 'w2/main'])
      expect((await other.upstreamReports()).find((r) => r.worker === 'w1')!.connections).toBe(5)
      // A stopping worker reports nothing: its rows go.
      await store.reportUpstreams('w1', [], 60_000)
      expect(await reportKeys(store)).toEqual(['w2/main'])
    })

    test('drops the reports of a worker that stopped reporting once their time is up', async () => {
      const from = Date.now()
      await store.reportUpstreams('quiet', [report('main')], 1000)
      await store.reportUpstreams('alive', [report('main')], 60_000)
      expect(await reportKeys(store)).toEqual(['alive/main', 'quiet/main'])
      await waitUntil(
        async () => (await reportKeys(store)).length === 1,
        20_000,
        'the quiet worker’s report to expire',
      )
      expect(Date.now() - from).toBeGreaterThanOrEqual(1000 - 50)
      expect(await reportKeys(store)).toEqual(['alive/main'])
    })

    test('counts attempts per upstream since a time', async () => {
      const start = Date.now()
      const messages = Array.from({ length: 6 }, () => newMessage())
      await store.enqueue(messages)
      await store.claim({ owner: 'w', limit: 10, leaseMs: 60_000 })
      const base = (id: string) => completion(id, 'w').attempt
      const finish = (
        i: number,
        status: 'sent' | 'failed' | 'deferred',
        outcome: 'sent' | 'captured' | 'failed' | 'expired' | 'deferred' | 'upstream-down',
        upstream: string | undefined,
        startedAt = new Date(),
      ) =>
        store.complete(
          completion(messages[i]!.id, 'w', {
            status,
            dueAt: status === 'deferred' ? new Date(Date.now() + 3_600_000) : null,
            recipients: status === 'deferred' ? [] : completion(messages[i]!.id, 'w').recipients,
            attempt: { ...base(messages[i]!.id), outcome, upstream, startedAt },
          }),
        )
      await finish(0, 'sent', 'sent', 'main')
      await finish(1, 'deferred', 'upstream-down', 'main')
      await finish(2, 'failed', 'failed', 'backup')
      await finish(3, 'failed', 'expired', 'backup')
      await finish(4, 'sent', 'captured', undefined) // names no upstream: left out
      await finish(5, 'sent', 'sent', 'old', new Date(start - 2 * 3_600_000)) // before `since`
      const activity = await store.upstreamActivity(new Date(start - 3_600_000))
      expect([...activity].sort((a, b) => a.upstream.localeCompare(b.upstream))).toEqual([
        { upstream: 'backup', sent: 0, deferred: 0, failed: 2 },
        { upstream: 'main', sent: 1, deferred: 1, failed: 0 },
      ])
      const all = await store.upstreamActivity(new Date(start - 3 * 3_600_000))
      expect(all.map((a) => a.upstream).sort()).toEqual(['backup', 'main', 'old'])
      expect(await store.upstreamActivity(new Date(Date.now() + 60_000))).toEqual([])
    })

    test('refuses the shaping calls once closed, the same way', async () => {
      const other = await options.reopen(store)
      await other.close()
      const calls: [string, () => Promise<unknown>][] = [
        ['releaseLeases with delays', () => other.releaseLeases('w', ['x'], [1000])],
        ['takeTokens', () => other.takeTokens([ask([bucket('upstream:main', 5)], 0)])],
        ['adjustRates', () => other.adjustRates([{ key: 'k', ratePerSec: 1, throttled: true }])],
        ['rateBuckets', () => other.rateBuckets()],
        ['reportUpstreams', () => other.reportUpstreams('w', [report('main')], 1000)],
        ['upstreamReports', () => other.upstreamReports()],
        ['upstreamActivity', () => other.upstreamActivity(new Date(0))],
      ]
      for (const [call, run] of calls) {
        await expect(run(), call).rejects.toMatchObject({ code: 'OUTBOX_STORE_UNAVAILABLE' })
      }
      // The first connection is untouched.
      expect(await store.rateBuckets()).toEqual([])
    })
  })
}
