import Database from 'better-sqlite3'
import { dirname } from 'node:path'
import { writeFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ConfigError, ErrorCodes, StoreUnavailableError } from '../../src/index.js'
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js'
import type { Store } from '../../src/store/store.js'
import { loadMigrations } from '../../src/store/migrations.js'
import { tempSqlitePath } from '../helpers/temp.js'

import { openThreadedStore } from '../../src/store/thread/threaded-store.js'
import { newMessage, runStoreContract } from './contract.js'

const MIGRATIONS = loadMigrations(new URL('../../src/store/sqlite/migrations/', import.meta.url))

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

// The same store run in a thread of its own, as `openStore('sqlite:FILE')` does by default.
runStoreContract('sqlite in a thread', {
  async newStore() {
    const path = tempSqlitePath()
    const store = await openThreadedStore({ sqlite: { path } })
    paths.set(store, path)
    return store
  },
  async reopen(store) {
    return openThreadedStore({ sqlite: { path: paths.get(store)! } })
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
    expect(db.prepare('SELECT version, name FROM outbox_migrations').all()).toEqual(
      MIGRATIONS.map(({ version, name }) => ({ version, name })),
    )
    expect(MIGRATIONS[0]).toMatchObject({ version: 1, name: 'init' })
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
    expect(db.prepare('SELECT count(*) AS n FROM outbox_migrations').get()).toEqual({
      n: MIGRATIONS.length,
    })
    db.close()
  })

  it('refuses a path whose folder does not exist, naming the folder', () => {
    // A folder that cannot exist: its parent is a regular file.
    const file = tempSqlitePath()
    writeFileSync(file, 'not a folder')
    expect(() => createSqliteStore({ path: `${file}/sub/queue.db` })).toThrow(ConfigError)
    expect(() => createSqliteStore({ path: `${file}/sub/queue.db` })).toThrow(`${file}/sub`)
  })

  it('close() commits a write requested during the last flush, and returns', async () => {
    // A fresh bucket makes adjustRates commit twice (create, then update): the second is
    // requested while the suppression's flush runs, and close() must let its flush start. In a
    // thread, so that a close() spinning there cannot stall this test's own timer.
    const store = await openThreadedStore({ sqlite: { path: tempSqlitePath() } })
    const adjusted = store.adjustRates([
      { key: 'upstream:default', ratePerSec: 3, throttled: true },
    ])
    await store.suppress([
      { address: 'x@example.com', reason: 'rejected', reply: null, messageId: null },
    ])
    let timer: NodeJS.Timeout | undefined
    const closed = await Promise.race([
      store.close().then(() => 'closed'),
      new Promise(
        (resolve) => (timer = setTimeout(() => resolve('still closing after 10 s'), 10_000)),
      ),
    ])
    clearTimeout(timer)
    expect(closed).toBe('closed')
    await expect(adjusted).resolves.toBeUndefined()
  })

  it('reports a path it cannot open as StoreUnavailableError', () => {
    // The path is a folder: SQLite cannot open it as a file.
    const dir = dirname(tempSqlitePath())
    expect(() => createSqliteStore({ path: dir })).toThrow(StoreUnavailableError)
  })
})
