import type { Connection, RowDataPacket } from 'mysql2/promise'
import { ConfigError, ErrorCodes, StoreUnavailableError } from '../../errors.js'
import { loadMigrations } from '../migrations.js'

const MIGRATIONS = new URL('./migrations/', import.meta.url)
/** How long a process waits for another one's migration to finish. */
const LOCK_WAIT_S = 60

/**
 * Brings the tables with `prefix` up to date, or (with `apply: false`) checks that they are.
 * Runs under `GET_LOCK` on the database and prefix, so processes starting together apply each
 * migration once. MariaDB and MySQL commit DDL at once (no transactional schema changes), so
 * each migration is recorded right after it ran; a migration that fails half way needs a look.
 * `connection` must allow several statements per query (a file holds many).
 */
export async function migrateMariadb(
  connection: Connection,
  prefix: string,
  options: { apply: boolean; ifMissing: 'create' | 'refuse' },
): Promise<void> {
  const migrations = loadMigrations(MIGRATIONS)
  const latest = migrations.length
  const table = `${prefix}migrations`
  const [[database]] = await connection.query<RowDataPacket[]>('SELECT DATABASE() AS db')
  const lockName = `outbox-migrate:${String(database?.db)}:${prefix}`.slice(0, 64)
  const [[locked]] = await connection.query<RowDataPacket[]>('SELECT GET_LOCK(?, ?) AS got', [
    lockName,
    LOCK_WAIT_S,
  ])
  if (Number(locked?.got) !== 1) {
    throw new StoreUnavailableError(
      `Another process has been migrating the Outbox tables ${prefix}* for ${LOCK_WAIT_S} s; try again.`,
    )
  }
  try {
    const [found] = await connection.query<RowDataPacket[]>(
      `SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?`,
      [table],
    )
    if (found.length === 0 && options.ifMissing === 'refuse') {
      throw new ConfigError(
        'store',
        `There is no Outbox queue with table prefix ${JSON.stringify(prefix)} in database ` +
          `${JSON.stringify(database?.db)}: check the store URL (--store, OUTBOX_STORE, ?prefix=); ` +
          '`outbox migrate` creates a new one.',
      )
    }
    await connection.query(`CREATE TABLE IF NOT EXISTS ${table} (
      version INT NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL,
      applied_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)) ENGINE=InnoDB`)
    const [[row]] = await connection.query<RowDataPacket[]>(
      `SELECT COALESCE(MAX(version), 0) AS v FROM ${table}`,
    )
    const current = Number(row?.v ?? 0)
    if (current > latest) {
      throw new StoreUnavailableError(
        `The Outbox tables ${prefix}* are at version ${current}, but this Outbox knows versions up to ${latest}. ` +
          'A newer Outbox has upgraded them: upgrade this installation of outbox too.',
        { code: ErrorCodes.SCHEMA_TOO_NEW },
      )
    }
    if (current < latest && !options.apply) {
      throw new StoreUnavailableError(
        `The Outbox tables ${prefix}* are at version ${current} and this Outbox needs ${latest}: run \`outbox migrate\`.`,
      )
    }
    for (const migration of migrations.slice(current)) {
      await connection.query(migration.sql.replaceAll('{{prefix}}', prefix))
      await connection.query(`INSERT INTO ${table} (version, name) VALUES (?, ?)`, [
        migration.version,
        migration.name,
      ])
    }
  } finally {
    await connection.query('SELECT RELEASE_LOCK(?)', [lockName]).catch(() => undefined)
  }
}
