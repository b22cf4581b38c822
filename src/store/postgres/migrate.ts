import type pg from 'pg'
import { ConfigError, ErrorCodes, StoreUnavailableError } from '../../errors.js'
import { loadMigrations } from '../migrations.js'

const MIGRATIONS = new URL('./migrations/', import.meta.url)

/**
 * Brings the schema up to date, or (with `apply: false`) checks that it is. Runs in one
 * transaction under an advisory lock on the schema's name, so processes starting together
 * apply each migration once, and a failed migration leaves nothing half done.
 */
export async function migratePostgres(
  pool: pg.Pool,
  schemaName: string,
  schema: string,
  options: { apply: boolean; ifMissing: 'create' | 'refuse' },
): Promise<void> {
  const migrations = loadMigrations(MIGRATIONS)
  const latest = migrations.length
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
      `outbox-migrate:${schemaName}`,
    ])
    if (options.ifMissing === 'refuse') {
      const found = await client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [
        `${schema}.outbox_migrations`,
      ])
      if (found.rows[0]?.t == null) {
        throw new ConfigError(
          'store',
          `There is no Outbox queue in schema ${JSON.stringify(schemaName)} of this database: check the ` +
            'store URL (--store, OUTBOX_STORE, ?schema=); `outbox migrate` creates a new one.',
        )
      }
    }
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`)
    await client.query(`CREATE TABLE IF NOT EXISTS ${schema}.outbox_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)
    const current = Number(
      (
        await client.query<{ v: number | null }>(
          `SELECT max(version) AS v FROM ${schema}.outbox_migrations`,
        )
      ).rows[0]?.v ?? 0,
    )
    if (current > latest) {
      throw new StoreUnavailableError(
        `The database schema ${schemaName} is at version ${current}, but this Outbox knows versions up to ${latest}. ` +
          'A newer Outbox has upgraded it: upgrade this installation of outbox too.',
        { code: ErrorCodes.SCHEMA_TOO_NEW },
      )
    }
    if (current < latest && !options.apply) {
      throw new StoreUnavailableError(
        `The database schema ${schemaName} is at version ${current} and this Outbox needs ${latest}: run \`outbox migrate\`.`,
      )
    }
    for (const migration of migrations.slice(current)) {
      // {{channel}}: the NOTIFY channel as a literal (the schema name is a plain identifier).
      await client.query(
        migration.sql
          .replaceAll('{{schema}}', schema)
          .replaceAll('{{channel}}', `'outbox:${schemaName}'`),
      )
      await client.query(
        `INSERT INTO ${schema}.outbox_migrations (version, name) VALUES ($1, $2)`,
        [migration.version, migration.name],
      )
    }
    await client.query('COMMIT')
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined)
    throw error
  } finally {
    client.release()
  }
}
