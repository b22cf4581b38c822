import { afterAll, beforeAll, describe } from 'vitest'
import { createMariadbStore } from '../../src/store/mariadb/mariadb-store.js'
import type { Store } from '../../src/store/store.js'
import {
  createTestDatabase,
  dropTestDatabases,
  mariadbAvailable,
  mariadbUrl,
} from '../helpers/mariadb.js'
import { runStoreContract } from './contract.js'

const available = await mariadbAvailable()
let database = ''
let tables = 0
const prefixes = new Map<Store, string>()
beforeAll(async () => {
  if (available) database = await createTestDatabase('contract')
})
afterAll(async () => {
  if (available && database) await dropTestDatabases([database])
})

describe.skipIf(!available)('MariaDB', () => {
  // Each store gets tables of its own (a prefix) in the file's database.
  runStoreContract('mariadb', {
    async newStore() {
      const prefix = `c${++tables}_`
      const store = await createMariadbStore({ uri: mariadbUrl(database), prefix, poolSize: 4 })
      prefixes.set(store, prefix)
      return store
    },
    async reopen(store) {
      const prefix = prefixes.get(store)!
      const other = await createMariadbStore({ uri: mariadbUrl(database), prefix, poolSize: 4 })
      prefixes.set(other, prefix)
      return other
    },
  })
})
