import Database from 'better-sqlite3'
import { dirname } from 'node:path'
import { writeFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ConfigError, ErrorCodes, StoreUnavailableError } from '../../src/index.js'
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js'
import type { Store } from '../../src/store/store.js'
import { tempSqlitePath } from '../helpers/temp.js'
import { newMessage, runStoreContract } from './contract.js'

const paths = new WeakMap<Store, string>()

runStoreContract('sqlite', {
  async newStore() {
    const path = tempSqlitePath()
    const store = createSqliteStore({ path })
    paths.set(store, path)
    return store
  },
  async reopen(store) {
    return createSqliteStore({ path: paths.get(store)! })
  },
})

describe('SQLite store specifics', () => {
  it('is durable: WAL with synchronous=FULL', () => {
    const path = tempSqlitePath()
    const store = createSqliteStore({ path })
    // journal_mode is a property of the file; synchronous is per connection, so ask the store's.
    const db = new Database(path)
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    db.close()
    expect(store.pragma('synchronous')).toBe(2)
    void store.close()
  })

  it('commits concurrent enqueues as a group: one fsync for many sends', async () => {
    const store = createSqliteStore({ path: tempSqlitePath() })
    const before = store.commits
    await Promise.all(Array.from({ length: 200 }, () => store.enqueue([newMessage()])))
    const commits = store.commits - before
    expect(commits).toBeLessThanOrEqual(5)
    expect((await store.countByStatus()).queued).toBe(200)
    await store.close()
  })

  it('records applied migrations and refuses a database from a newer Outbox', async () => {
    const path = tempSqlitePath()
    await createSqliteStore({ path }).close()
    const db = new Database(path)
    expect(db.prepare('SELECT version, name FROM outbox_migrations').all()).toEqual([
      { version: 1, name: 'init' },
      { version: 2, name: 'operator_indexes' },
      { version: 3, name: 'due_index' },
      { version: 4, name: 'attempts_started' },
      { version: 5, name: 'transport_needs' },
    ])
    db.prepare('INSERT INTO outbox_migrations VALUES (99, ?, ?)').run('future', Date.now())
    db.close()
    let error: unknown
    try {
      createSqliteStore({ path })
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(StoreUnavailableError)
    expect((error as StoreUnavailableError).code).toBe(ErrorCodes.SCHEMA_TOO_NEW)
    expect((error as Error).message).toMatch(/upgrade/)
  })

  it('reopening an up-to-date database applies nothing twice', async () => {
    const path = tempSqlitePath()
    await createSqliteStore({ path }).close()
    await createSqliteStore({ path }).close()
    const db = new Database(path)
    expect(db.prepare('SELECT count(*) AS n FROM outbox_migrations').get()).toEqual({ n: 5 })
    db.close()
  })

  it('refuses a path whose folder does not exist, naming the folder', () => {
    // A folder that cannot exist: its parent is a regular file.
    const file = tempSqlitePath()
    writeFileSync(file, 'not a folder')
    expect(() => createSqliteStore({ path: `${file}/sub/queue.db` })).toThrow(ConfigError)
    expect(() => createSqliteStore({ path: `${file}/sub/queue.db` })).toThrow(`${file}/sub`)
  })

  it('reports a path it cannot open as StoreUnavailableError', () => {
    // The path is a folder: SQLite cannot open it as a file.
    const dir = dirname(tempSqlitePath())
    expect(() => createSqliteStore({ path: dir })).toThrow(StoreUnavailableError)
  })
})
