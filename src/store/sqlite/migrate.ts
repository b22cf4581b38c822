import type Database from 'better-sqlite3'
import { ErrorCodes, StoreUnavailableError } from '../../errors.js'
import { loadMigrations } from '../migrations.js'

const MIGRATIONS = new URL('./migrations/', import.meta.url)

/**
 * Brings the schema up to date. Runs under BEGIN IMMEDIATE, which takes SQLite's write lock,
 * so two processes starting at once apply each migration exactly once.
 */
export function migrateSqlite(db: Database.Database): void {
  const migrations = loadMigrations(MIGRATIONS)
  const latest = migrations.length
  db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS outbox_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`)
    const row = db.prepare('SELECT max(version) AS v FROM outbox_migrations').get() as {
      v: number | null
    }
    const current = row.v ?? 0
    if (current > latest) {
      throw new StoreUnavailableError(
        `The database schema is at version ${current}, but this Outbox knows versions up to ${latest}. ` +
          'A newer Outbox has upgraded it: upgrade this installation of outbox too.',
        { code: ErrorCodes.SCHEMA_TOO_NEW },
      )
    }
    const record = db.prepare(
      'INSERT INTO outbox_migrations (version, name, applied_at) VALUES (?, ?, ?)',
    )
    for (const migration of migrations.slice(current)) {
      db.exec(migration.sql)
      record.run(migration.version, migration.name, Date.now())
    }
  }).immediate()
}
