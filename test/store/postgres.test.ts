import { afterAll, describe } from 'vitest'
import { createPostgresStore } from '../../src/store/postgres/postgres-store.js'
import type { Store } from '../../src/store/store.js'
import { dropSchemas, POSTGRES_URL, postgresAvailable, uniqueSchema } from '../helpers/postgres.js'
import { runStoreContract } from './contract.js'

const available = await postgresAvailable()
const schemas = new Map<Store, string>()
afterAll(async () => {
  if (available) await dropSchemas(new Set(schemas.values()))
})

describe.skipIf(!available)('PostgreSQL', () => {
  runStoreContract('postgres', {
    async newStore() {
      const schema = uniqueSchema('contract')
      const store = await createPostgresStore({
        connectionString: POSTGRES_URL,
        schema,
        poolSize: 4,
      })
      schemas.set(store, schema)
      return store
    },
    async reopen(store) {
      const schema = schemas.get(store)!
      const other = await createPostgresStore({
        connectionString: POSTGRES_URL,
        schema,
        poolSize: 4,
      })
      schemas.set(other, schema)
      return other
    },
  })
})
