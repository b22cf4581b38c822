import mysql from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, StoreUnavailableError } from '../../src/errors.js'
import { loadMigrations } from '../../src/store/migrations.js'
import { openStore } from '../../src/store/open-store.js'
import {
  createTestDatabase,
  dropTestDatabases,
  mariadbAvailable,
  mariadbUrl,
} from '../helpers/mariadb.js'

const available = await mariadbAvailable()
let database = ''
beforeAll(async () => {
  if (available) database = await createTestDatabase('url')
})
afterAll(async () => {
  if (available && database) await dropTestDatabases([database])
})

describe.skipIf(!available)('opening a MariaDB store by URL', () => {
  it('creates its tables with the prefix the URL names, once for processes opening together', async () => {
    const url = mariadbUrl(database, { prefix: 'shop_mail_', poolSize: '2' })
    const stores = await Promise.all([openStore(url), openStore(url), openStore(url)])
    await Promise.all(stores.map((s) => s.close()))
    const connection = await mysql.createConnection({ uri: mariadbUrl(database) })
    try {
      const [tables] = await connection.query<mysql.RowDataPacket[]>(
        `SELECT table_name AS t FROM information_schema.tables WHERE table_schema = ? ORDER BY 1`,
        [database],
      )
      expect(tables.map((r) => String(r.t))).toContain('shop_mail_messages')
      const [versions] = await connection.query<mysql.RowDataPacket[]>(
        'SELECT version FROM shop_mail_migrations',
      )
      // Each migration once, though three processes raced to apply them.
      const expected = loadMigrations(
        new URL('../../src/store/mariadb/migrations/', import.meta.url),
      ).map((m) => m.version)
      expect(versions.map((r) => Number(r.version)).sort((a, b) => a - b)).toEqual(expected)
    } finally {
      await connection.end()
    }
  })

  it('refuses a prefix with no queue when asked to, and an outdated one with migrate=false', async () => {
    await expect(
      openStore(mariadbUrl(database, { prefix: 'typo_' }), { ifMissing: 'refuse' }),
    ).rejects.toBeInstanceOf(ConfigError)
    await expect(
      openStore(mariadbUrl(database, { prefix: 'fresh_', migrate: 'false' })),
    ).rejects.toThrow(StoreUnavailableError)
    await expect(
      openStore(mariadbUrl(database, { prefix: 'fresh_', migrate: 'false' })),
    ).rejects.toThrow(/outbox migrate/)
  })
})
