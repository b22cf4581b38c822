import mysql from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Logger } from '../../src/logger.js'
import { durabilityWarning } from '../../src/store/mariadb/server-durability.js'
import { openStore } from '../../src/store/open-store.js'
import {
  MARIADB_URL,
  createTestDatabase,
  dropTestDatabases,
  mariadbAvailable,
  mariadbUrl,
} from '../helpers/mariadb.js'

describe('durabilityWarning', () => {
  it('is silent only when every commit is flushed to disk before it is acknowledged', () => {
    expect(durabilityWarning(1)).toBeNull()
    expect(durabilityWarning('1')).toBeNull()
    for (const lax of [0, 2, '2']) {
      expect(durabilityWarning(lax)).toMatch(/innodb_flush_log_at_trx_commit=\d.*can lose mail/)
    }
  })
})

describe.skipIf(!(await mariadbAvailable()))('a MariaDB server that acknowledges early', () => {
  let database: string
  let connection: mysql.Connection
  let original: number

  beforeAll(async () => {
    database = await createTestDatabase('durability')
    connection = await mysql.createConnection({ uri: MARIADB_URL })
    const [[row]] = await connection.query<mysql.RowDataPacket[]>(
      'SELECT @@GLOBAL.innodb_flush_log_at_trx_commit AS value',
    )
    original = Number(row?.value)
  })

  afterAll(async () => {
    await connection
      ?.query(`SET GLOBAL innodb_flush_log_at_trx_commit = ${original ?? 1}`)
      .catch(() => undefined)
    await connection?.end()
    await dropTestDatabases([database])
  })

  it('is named in a warning when the store opens, and only then', async () => {
    const warnings: string[] = []
    const logger: Logger = {
      debug: () => undefined,
      info: () => undefined,
      warn: (_obj, msg) => void warnings.push(String(msg)),
      error: () => undefined,
    }
    // The server's own setting (1 on this machine) gives no warning.
    const strict = await openStore(mariadbUrl(database), { logger })
    if (original === 1) expect((await strict.stats()).durabilityWarning).toBeUndefined()
    await strict.close()
    expect(warnings.filter((w) => w.includes('innodb_flush_log_at_trx_commit'))).toEqual(
      original === 1 ? [] : [expect.any(String)],
    )

    // Other tests may run meanwhile: the setting changes only how soon their commits reach
    // the disk, and is put back at once.
    warnings.length = 0
    await connection.query('SET GLOBAL innodb_flush_log_at_trx_commit = 2')
    try {
      const lax = await openStore(mariadbUrl(database), { logger })
      try {
        // …and stays visible where operators look: stats (the dashboard, `outbox stats`).
        expect((await lax.stats()).durabilityWarning).toMatch(/innodb_flush_log_at_trx_commit=2/)
      } finally {
        await lax.close()
      }
    } finally {
      await connection.query(`SET GLOBAL innodb_flush_log_at_trx_commit = ${original}`)
    }
    expect(warnings).toEqual([expect.stringMatching(/innodb_flush_log_at_trx_commit=2/)])
  })
})
