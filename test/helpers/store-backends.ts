import { randomBytes } from 'node:crypto'
import { createTestDatabase, dropTestDatabases, mariadbAvailable, mariadbUrl } from './mariadb.js'
import { dropSchemas, postgresAvailable, postgresStoreUrl, uniqueSchema } from './postgres.js'
import { deleteKeys, REDIS_URL, redisAvailable } from './redis.js'
import { tempSqliteUrl } from './temp.js'

/** One store backend as a test that runs against each of them sees it. */
export interface StoreBackend {
  name: 'sqlite' | 'postgres' | 'mariadb' | 'redis'
  /** Whether its server answers (false only outside CI, where the helper printed why). */
  available: boolean
  /** A fresh, empty store URL; what it creates is removed by {@link cleanUpBackends}. */
  newUrl(label: string): Promise<string>
}

const schemas: string[] = []
const databases: string[] = []
const prefixes: string[] = []

/** The four backends, each with its availability (checked once). */
export async function storeBackends(): Promise<StoreBackend[]> {
  const [postgres, mariadb, redis] = await Promise.all([
    postgresAvailable(),
    mariadbAvailable(),
    redisAvailable(),
  ])
  return [
    { name: 'sqlite', available: true, newUrl: () => Promise.resolve(tempSqliteUrl()) },
    {
      name: 'postgres',
      available: postgres,
      newUrl(label) {
        const schema = uniqueSchema(label)
        schemas.push(schema)
        return Promise.resolve(postgresStoreUrl(schema))
      },
    },
    {
      name: 'mariadb',
      available: mariadb,
      async newUrl(label) {
        const database = await createTestDatabase(label)
        databases.push(database)
        return mariadbUrl(database)
      },
    },
    {
      name: 'redis',
      available: redis,
      newUrl(label) {
        const prefix = `outbox-test:${label}:${randomBytes(4).toString('hex')}:`
        prefixes.push(prefix)
        return Promise.resolve(`${REDIS_URL}?prefix=${encodeURIComponent(prefix)}`)
      },
    },
  ]
}

/** Drops the schemas, databases and keys the backends' URLs created (for afterAll). */
export async function cleanUpBackends(): Promise<void> {
  if (schemas.length > 0) await dropSchemas(schemas.splice(0))
  if (databases.length > 0) await dropTestDatabases(databases.splice(0))
  for (const prefix of prefixes.splice(0)) await deleteKeys(REDIS_URL, prefix)
}
