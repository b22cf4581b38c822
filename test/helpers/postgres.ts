import { randomBytes } from 'node:crypto'
import pg from 'pg'

/** The PostgreSQL the tests use: this machine's, unless OUTBOX_TEST_POSTGRES_URL says otherwise. */
export const POSTGRES_URL =
  process.env.OUTBOX_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

let reachable: Promise<boolean> | null = null

/**
 * Whether PostgreSQL answers. In CI (CI=true) an unreachable server fails the run loudly;
 * elsewhere the PostgreSQL tests are skipped with the reason printed.
 */
export function postgresAvailable(): Promise<boolean> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 })
    try {
      await client.connect()
      await client.query('SELECT 1')
      return true
    } catch (error) {
      const reason = `PostgreSQL is not reachable at ${POSTGRES_URL}: ${(error as Error).message}`
      if (process.env.CI === 'true')
        throw new Error(`${reason}. CI needs it: start it (see .ci/run).`)
      console.warn(`SKIPPING PostgreSQL tests: ${reason}`)
      return false
    } finally {
      await client.end().catch(() => undefined)
    }
  })()
  return reachable
}

/** A fresh schema name, so each test file (or store) has its own tables. */
export function uniqueSchema(prefix: string): string {
  return `t_${prefix}_${randomBytes(4).toString('hex')}`
}

/** `postgres://…?schema=NAME` for a schema. */
export function postgresStoreUrl(schema: string): string {
  const url = new URL(POSTGRES_URL)
  url.searchParams.set('schema', schema)
  return url.toString()
}

/** Drops test schemas. */
export async function dropSchemas(schemas: Iterable<string>): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL })
  await client.connect()
  try {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  } finally {
    await client.end()
  }
}
