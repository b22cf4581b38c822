import { randomBytes } from 'node:crypto'
import { afterAll, describe } from 'vitest'
import { createRedisStore } from '../../src/store/redis/redis-store.js'
import type { Store } from '../../src/store/store.js'
import { deleteKeys, REDIS_URL, redisAvailable } from '../helpers/redis.js'
import { runStoreContract } from './contract.js'

// This machine's Redis keeps nothing on disk: the store accepts it with a warning (the default
// durability=warn). Every key of this file is under one prefix, deleted at the end.
const available = await redisAvailable()
const filePrefix = `outbox-test:${randomBytes(4).toString('hex')}:`
let stores = 0
const prefixes = new Map<Store, string>()
afterAll(async () => {
  if (available) await deleteKeys(REDIS_URL, filePrefix)
})

describe.skipIf(!available)('Redis', () => {
  runStoreContract('redis', {
    async newStore() {
      const prefix = `${filePrefix}c${++stores}:`
      const store = await createRedisStore({ url: REDIS_URL, prefix })
      prefixes.set(store, prefix)
      return store
    },
    async reopen(store) {
      const prefix = prefixes.get(store)!
      const other = await createRedisStore({ url: REDIS_URL, prefix })
      prefixes.set(other, prefix)
      return other
    },
  })
})
