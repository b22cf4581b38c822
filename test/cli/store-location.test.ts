import Database from 'better-sqlite3'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  dropSchemas,
  POSTGRES_URL,
  postgresAvailable,
  postgresStoreUrl,
  uniqueSchema,
} from '../helpers/postgres.js'
import { runCli } from '../helpers/run-cli.js'

let cwd: string
beforeAll(() => {
  cwd = mkdtempSync(join(tmpdir(), 'outbox-store-location-'))
})
afterAll(() => rmSync(cwd, { recursive: true, force: true }))

const cli = (...args: string[]) => runCli(args, { cwd })

describe('a store URL that names no queue', () => {
  it('is refused by reading commands (exit 2, naming the path), and nothing is created', async () => {
    const missingDir = join(cwd, 'nonexistent', 'dir')
    const missingFile = join(cwd, 'typo.db')
    for (const args of [
      ['list'],
      ['show', 'abc'],
      ['stats'],
      ['retry', '--failed'],
      ['hold', 'abc'],
      ['release', 'abc'],
      ['delete', 'abc'],
      ['purge', '--older-than', '7d'],
      ['send'],
    ]) {
      for (const path of [join(missingDir, 'outbox.db'), missingFile]) {
        const result = await cli(...args, '--store', `sqlite:${path}`)
        expect(result.code, `outbox ${args.join(' ')} on ${path}`).toBe(2)
        expect(result.stderr).toContain(path)
        expect(result.stderr).toContain('no Outbox queue')
      }
    }
    expect(existsSync(join(cwd, 'nonexistent'))).toBe(false)
    expect(existsSync(missingFile)).toBe(false)
  })

  it('may be created by migrate, but never with missing folders', async () => {
    const fresh = join(cwd, 'fresh.db')
    expect((await cli('migrate', '--store', `sqlite:${fresh}`)).code).toBe(0)
    expect(existsSync(fresh)).toBe(true)
    expect(await cli('list', '--store', `sqlite:${fresh}`)).toMatchObject({
      code: 0,
      stdout: 'no messages\n',
    })
    const deep = join(cwd, 'no', 'such', 'folder', 'outbox.db')
    for (const args of [['migrate'], ['worker']]) {
      const result = await cli(...args, '--store', `sqlite:${deep}`)
      expect(result.code, args.join(' ')).toBe(2)
      expect(result.stderr).toContain(`folder ${join(cwd, 'no', 'such', 'folder')}`)
    }
    expect(existsSync(join(cwd, 'no'))).toBe(false)
  })

  it('says so when the file is not a database, or is some other database', async () => {
    const garbage = join(cwd, 'garbage.db')
    writeFileSync(
      garbage,
      'this is not a database, just a text file that someone named .db\n'.repeat(100),
    )
    for (const args of [['list'], ['worker']]) {
      const result = await cli(...args, '--store', `sqlite:${garbage}`)
      expect(result.code, args.join(' ')).toBe(2)
      expect(result.stderr).toContain('is not an Outbox database or is damaged')
      expect(result.stderr).toContain('move it aside')
      expect(result.stderr).not.toContain('writable')
    }
    const other = join(cwd, 'app.db')
    const db = new Database(other)
    db.exec('CREATE TABLE users (id INTEGER PRIMARY KEY)')
    db.close()
    const result = await cli('list', '--store', `sqlite:${other}`)
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('holds no Outbox queue')
  })
})

describe('a PostgreSQL schema that holds no queue', async () => {
  const available = await postgresAvailable()
  const schema = uniqueSchema('typo')
  afterAll(async () => {
    if (available) await dropSchemas([schema])
  })
  it.skipIf(!available)('is refused by reading commands and not created', async () => {
    const result = await cli('list', '--store', postgresStoreUrl(schema))
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(`schema "${schema}"`)
    const client = new pg.Client({ connectionString: POSTGRES_URL })
    await client.connect()
    try {
      const found = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])
      expect(found.rowCount).toBe(0)
    } finally {
      await client.end()
    }
    expect((await cli('migrate', '--store', postgresStoreUrl(schema))).code).toBe(0)
    expect((await cli('list', '--store', postgresStoreUrl(schema))).code).toBe(0)
  })
})
