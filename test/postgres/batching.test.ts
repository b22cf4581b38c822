import pg from 'pg'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { createPostgresStore } from '../../src/store/postgres/postgres-store.js'
import type { Store } from '../../src/store/store.js'
import { dropSchemas, POSTGRES_URL, postgresAvailable, uniqueSchema } from '../helpers/postgres.js'
import { newMessage } from '../store/contract.js'

// The PostgreSQL store inserts a batch with one statement per 1,000 messages (or 16 MB), and
// writes the completions that arrive together in one statement.
const available = await postgresAvailable()
const schemas: string[] = []
let store: Store | null = null
afterEach(async () => {
  await store?.close()
  store = null
})
afterAll(async () => {
  if (available) await dropSchemas(schemas)
})

async function open(): Promise<Store> {
  const schema = uniqueSchema('batch')
  schemas.push(schema)
  store = await createPostgresStore({ connectionString: POSTGRES_URL, schema, poolSize: 2 })
  return store
}

describe.skipIf(!available)('batching (PostgreSQL)', () => {
  it('stores a batch spanning several statements, with recipients, tags and bytes', async () => {
    const s = await open()
    const batch = Array.from({ length: 2500 }, (_, i) =>
      newMessage({
        envelope: { from: 'a@example.com', to: [`r${i}@example.com`, `s${i}@example.com`] },
        tags: i % 2 ? ['odd', 'x'] : [],
        priority: i === 2499 ? 'high' : 'normal',
        sendAt: i === 7 ? new Date(Date.now() + 3_600_000) : null,
      }),
    )
    const results = await s.enqueue(batch)
    expect(results.map((r) => r.id)).toEqual(batch.map((m) => m.id))
    expect(results.every((r) => !r.duplicate)).toBe(true)
    expect((await s.countByStatus()).queued).toBe(2500)
    const last = await s.getMessage(batch[2499]!.id)
    expect(last).toMatchObject({ priority: 'high', tags: ['odd', 'x'] })
    expect(last!.recipientStatus.map((r) => r.address)).toEqual([
      'r2499@example.com',
      's2499@example.com',
    ])
    expect((await s.getRaw(batch[1234]!.id))!.equals(batch[1234]!.raw)).toBe(true)
    expect((await s.getMessage(batch[7]!.id))!.dueAt!.getTime()).toBeGreaterThan(Date.now())
    expect((await s.claim({ owner: 'w', limit: 1, leaseMs: 60_000 }))[0]!.id).toBe(batch[2499]!.id)
  })

  it('finds idempotency keys repeated across statements and already stored', async () => {
    const s = await open()
    const stored = newMessage({ idempotencyKey: 'old' })
    await s.enqueue([stored])
    const batch = Array.from({ length: 1500 }, () => newMessage())
    batch[10] = newMessage({ idempotencyKey: 'k' })
    batch[1400] = newMessage({ idempotencyKey: 'k' })
    batch[20] = newMessage({ idempotencyKey: 'old' })
    const results = await s.enqueue(batch)
    expect(results[10]).toEqual({
      id: batch[10].id,
      messageId: batch[10].messageId,
      duplicate: false,
      suppressed: [],
    })
    expect(results[1400]).toEqual({ ...results[10], duplicate: true })
    expect(results[20]).toEqual({
      id: stored.id,
      messageId: stored.messageId,
      duplicate: true,
      suppressed: [],
    })
    expect((await s.countByStatus()).queued).toBe(1 + 1500 - 2)
  })

  it('stores nothing of a batch that fails in its second statement', async () => {
    const s = await open()
    const batch = Array.from({ length: 1200 }, () => newMessage())
    batch[1100] = newMessage({ id: batch[5]!.id })
    await expect(s.enqueue(batch)).rejects.toThrow()
    expect((await s.countByStatus()).queued).toBe(0)
  })

  it('enqueues a large batch inside the caller’s transaction, and nothing when it rolls back', async () => {
    const s = await open()
    const client = new pg.Client({ connectionString: POSTGRES_URL })
    await client.connect()
    try {
      await client.query('BEGIN')
      await s.enqueue(
        Array.from({ length: 1100 }, () => newMessage()),
        { transaction: client },
      )
      expect((await s.countByStatus()).queued).toBe(0)
      await client.query('ROLLBACK')
      expect((await s.countByStatus()).queued).toBe(0)
      await client.query('BEGIN')
      await s.enqueue([newMessage(), newMessage()], { transaction: client })
      await client.query('COMMIT')
      expect((await s.countByStatus()).queued).toBe(2)
    } finally {
      await client.end()
    }
  })

  it('writes completions that arrive together as one batch, each applied only with its lease', async () => {
    const s = await open()
    await s.enqueue(Array.from({ length: 6 }, () => newMessage()))
    const claimed = await s.claim({ owner: 'w', limit: 6, leaseMs: 60_000 })
    const [gone, ...rest] = claimed
    await s.remove({ ids: [gone!.id] })
    const done = (id: string, owner: string, status: 'sent' | 'deferred') => ({
      id,
      owner,
      attempt: {
        worker: owner,
        startedAt: new Date(),
        durationMs: 3,
        outcome: status,
        error: status === 'sent' ? null : '451 later',
        recipients: [],
      },
      recipients: [
        { address: 'a@example.com', status: 'sent' as const, code: 250, reply: '250 ok' },
      ],
      status,
      dueAt: status === 'deferred' ? new Date(Date.now() + 60_000) : null,
      countsTowardBackoff: status === 'deferred',
      waitingForUpstream: false,
      reason: null,
      captured: false,
    })
    const applied = await Promise.all([
      s.complete(done(gone!.id, 'w', 'sent')),
      s.complete(done(rest[0]!.id, 'w', 'sent')),
      s.complete(done(rest[1]!.id, 'someone-else', 'sent')),
      s.complete(done(rest[2]!.id, 'w', 'deferred')),
      s.complete(done(rest[3]!.id, 'w', 'sent')),
      s.complete(done(rest[4]!.id, 'w', 'sent')),
    ])
    expect(applied).toEqual([false, true, false, true, true, true])
    expect(await s.countByStatus()).toMatchObject({ sent: 3, deferred: 1, sending: 1 })
    const stolen = await s.getMessage(rest[1]!.id)
    expect(stolen).toMatchObject({ status: 'sending', leaseOwner: 'w' })
    expect(stolen!.attemptLog).toHaveLength(1)
    const deferred = await s.getMessage(rest[2]!.id)
    expect(deferred!.recipientStatus.map((r) => r.status)).toEqual(['sent', 'pending'])
    expect(deferred!.dueAt!.getTime()).toBeGreaterThan(Date.now() + 50_000)
    expect((await s.getMessage(rest[0]!.id))!.finishedAt).not.toBeNull()
  })
})
