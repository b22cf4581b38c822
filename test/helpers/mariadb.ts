import { randomBytes } from 'node:crypto'
import mysql from 'mysql2/promise'

/** The MariaDB the tests use: this machine's, unless OUTBOX_TEST_MARIADB_URL says otherwise. */
export const MARIADB_URL = process.env.OUTBOX_TEST_MARIADB_URL ?? 'mysql://root@127.0.0.1:3306/test'

let reachable: Promise<boolean> | null = null

/**
 * Whether MariaDB answers. In CI (CI=true) an unreachable server fails the run loudly;
 * elsewhere the MariaDB tests are skipped with the reason printed.
 */
export function mariadbAvailable(): Promise<boolean> {
  reachable ??= (async () => {
    try {
      const connection = await mysql.createConnection({ uri: MARIADB_URL, connectTimeout: 3000 })
      await connection.query('SELECT 1')
      await connection.end()
      return true
    } catch (error) {
      const reason = `MariaDB is not reachable at ${MARIADB_URL}: ${(error as Error).message}`
      if (process.env.CI === 'true')
        throw new Error(`${reason}. CI needs it: start it (see .ci/run).`)
      console.warn(`SKIPPING MariaDB tests: ${reason}`)
      return false
    }
  })()
  return reachable
}

/** Creates a fresh database for one test file; returns its name. */
export async function createTestDatabase(label: string): Promise<string> {
  const name = `outbox_test_${label}_${randomBytes(4).toString('hex')}`
  const connection = await mysql.createConnection({ uri: MARIADB_URL })
  try {
    await connection.query(`CREATE DATABASE \`${name}\``)
  } finally {
    await connection.end()
  }
  return name
}

/** Drops test databases. */
export async function dropTestDatabases(names: Iterable<string>): Promise<void> {
  const connection = await mysql.createConnection({ uri: MARIADB_URL })
  try {
    for (const name of names) await connection.query(`DROP DATABASE IF EXISTS \`${name}\``)
  } finally {
    await connection.end()
  }
}

/** `mysql://…/DATABASE` with optional parameters, for a test database. */
export function mariadbUrl(database: string, params: Record<string, string> = {}): string {
  const url = new URL(MARIADB_URL)
  url.pathname = `/${database}`
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value)
  return url.toString()
}
