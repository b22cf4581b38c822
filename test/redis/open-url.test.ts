import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { openStore } from '../../src/store/open-store.js'
import { deleteKeys, REDIS_URL, redisAvailable } from '../helpers/redis.js'
import { newMessage } from '../store/contract.js'

const available = await redisAvailable()
const prefix = `outbox-test:${randomBytes(4).toString('hex')}:url:`
afterAll(async () => {
  if (available) await deleteKeys(REDIS_URL, prefix)
})

describe.skipIf(!available)('opening a redis:// URL', () => {
  it('keeps every key under ?prefix=', async () => {
    const store = await openStore(`${REDIS_URL}?prefix=${encodeURIComponent(prefix)}`)
    try {
      expect(store.kind).toBe('redis')
      const m = newMessage()
      await store.enqueue([m])
      const client = new Redis(REDIS_URL)
      try {
        expect(await client.exists(`${prefix}m:${m.id}`)).toBe(1)
      } finally {
        client.disconnect()
      }
    } finally {
      await store.close()
    }
  })

  it('refuses parameters it cannot use, naming them', async () => {
    for (const [params, name] of [
      ['durability=always', 'durability'],
      ['wait=-1', 'wait'],
      ['wait=1&waitTimeout=0', 'waitTimeout'],
    ] as const) {
      await expect(openStore(`${REDIS_URL}?${params}`), params).rejects.toMatchObject({
        name: 'ConfigError',
        message: expect.stringContaining(name) as unknown,
      })
    }
  })
})
