import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { afterAll, describe, expect, it } from 'vitest'
import { createRedisStore } from '../../src/store/redis/redis-store.js'
import { deleteKeys, REDIS_URL, redisAvailable } from '../helpers/redis.js'
import { newMessage } from '../store/contract.js'

const available = await redisAvailable()
const prefix = `outbox-test:${randomBytes(4).toString('hex')}:dead:`
afterAll(async () => {
  if (available) await deleteKeys(REDIS_URL, prefix)
})

describe.skipIf(!available)('Redis store: leases of dead workers on this host', () => {
  it('are taken over at once instead of when they expire', async () => {
    const store = await createRedisStore({ url: REDIS_URL, prefix })
    try {
      // An owner named like a worker of this host whose process is gone (no such pid/start).
      const dead = `${hostname()}:4194999:s1:abcdef`
      const m = newMessage({ leaseTo: { owner: dead, leaseMs: 600_000 } })
      await store.enqueue([m])
      const claimed = await store.claim({ owner: 'w2', limit: 10, leaseMs: 60_000 })
      expect(claimed.map((c) => c.id)).toEqual([m.id])
      // An owner on another host cannot be checked: its lease holds until it expires.
      const remote = newMessage({ leaseTo: { owner: 'elsewhere:1:s1:abcdef', leaseMs: 600_000 } })
      await store.enqueue([remote])
      await new Promise((resolve) => setTimeout(resolve, 1100))
      expect(await store.claim({ owner: 'w2', limit: 10, leaseMs: 60_000 })).toEqual([])
    } finally {
      await store.close()
    }
  })
})
