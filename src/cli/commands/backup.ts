import Database from 'better-sqlite3'
import type { Command } from 'commander'
import { randomBytes } from 'node:crypto'
import {
  chownSync,
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  openSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { redactUrl } from '../../delivery/upstream.js'
import { CliExit, commandConfig, EXIT } from '../context.js'

/** Pages copied per step while nothing else writes (4 MB of 4 KB pages). */
const PAGES_PER_STEP = 1024
/** The rest in one step: what a step copies is one consistent read of the source. */
const ALL_PAGES = 0x7fffffff

/** The tool that backs up a store this command does not copy, by URL scheme. */
function otherStoreTool(url: string): string | null {
  if (/^postgres(ql)?:\/\//.test(url))
    return 'a PostgreSQL store is backed up with pg_dump (e.g. pg_dump --schema=outbox -Fc DB), not outbox backup'
  if (/^(mysql|mariadb):\/\//.test(url))
    return 'a MariaDB/MySQL store is backed up with mariadb-dump (or mysqldump --single-transaction), not outbox backup'
  if (/^rediss?:\/\//.test(url))
    return "a Redis store is backed up with Redis's own persistence: BGSAVE (copy the RDB file) or the AOF, not outbox backup"
  return null
}

/** The database file a `sqlite:` store URL names (as open-store.ts reads it). */
function sqlitePath(url: string): string {
  const other = otherStoreTool(url)
  if (other) throw new CliExit(EXIT.usage, other)
  if (!url.startsWith('sqlite:'))
    throw new CliExit(
      EXIT.usage,
      `store ${redactUrl(url)} is not a SQLite store; outbox backup copies sqlite:PATH stores`,
    )
  let path = url.slice('sqlite:'.length)
  if (path.startsWith('//')) path = path.slice(2)
  path = path.replace(/\?thread=(true|false)$/, '')
  if (!path || path === ':memory:')
    throw new CliExit(EXIT.usage, 'an in-memory SQLite store has no file to back up')
  return resolve(path)
}

/** 1536 → "1.5 KB", 10485760 → "10.0 MB". */
function bytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KB', 'MB', 'GB', 'TB']
  let value = n / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(1)} ${units[unit]}`
}

/** fsync of a file or folder by path. */
function syncPath(path: string): void {
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

interface BackupResult {
  source: string
  file: string
  pages: number
  pageSize: number
  bytes: number
  ms: number
  /** Times the copy started over because a worker wrote to the store meanwhile. */
  restarts: number
  integrity: 'ok'
  messages: number
  schemaVersion: number | null
}

/**
 * Opens the store's file read-only, without migrations: the backup must not change what it
 * copies. Refuses (exit 2) a file that is missing, not SQLite, or holds no Outbox queue.
 */
function openSource(path: string): Database.Database {
  if (!existsSync(path))
    throw new CliExit(
      EXIT.usage,
      `There is no Outbox queue at ${path}: check the store path (--store, OUTBOX_STORE)`,
    )
  const shared = [`${path}-wal`, `${path}-shm`].filter((f) => !existsSync(f))
  let db: Database.Database
  try {
    db = new Database(path, { readonly: true, fileMustExist: true })
    // The workers hold the write lock for a commit at a time; wait for it, not fail.
    db.pragma('busy_timeout = 10000')
    const found = db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'outbox_migrations'")
      .get()
    if (!found) {
      db.close()
      throw new CliExit(
        EXIT.usage,
        `${path} is a SQLite database but holds no Outbox queue; check the store path (--store, OUTBOX_STORE)`,
      )
    }
  } catch (cause) {
    if (cause instanceof CliExit) throw cause
    const code = (cause as { code?: unknown }).code
    if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT')
      throw new CliExit(
        EXIT.usage,
        `${path} is not an Outbox database or is damaged: ${(cause as Error).message}`,
      )
    throw new CliExit(EXIT.failed, `cannot open ${path}: ${(cause as Error).message}`)
  }
  // Reading a WAL database creates its -wal and -shm files when no worker has them open. Run as
  // root (cron), they would belong to root and lock the store's own user out: hand them over.
  if (process.getuid?.() === 0) {
    const owner = statSync(path)
    for (const file of shared) {
      if (existsSync(file)) chownSync(file, owner.uid, owner.gid)
    }
  }
  return db
}

async function backup(sourcePath: string, file: string, force: boolean): Promise<BackupResult> {
  const started = Date.now()
  if (!existsSync(dirname(file)))
    throw new CliExit(EXIT.usage, `the folder ${dirname(file)} does not exist`)
  if (existsSync(file)) {
    if (!force) throw new CliExit(EXIT.usage, `${file} exists; pass --force to replace it`)
    if (realpathSync(file) === realpathSync(sourcePath))
      throw new CliExit(EXIT.usage, `${file} is the store itself`)
  }
  // A -wal beside FILE would be read as FILE's own by whoever opens the copy next.
  for (const leftover of [`${file}-wal`, `${file}-journal`]) {
    if (existsSync(leftover))
      throw new CliExit(
        EXIT.usage,
        `${leftover} exists: ${file} is open or was not closed cleanly; move it aside first`,
      )
  }

  const source = openSource(sourcePath)
  const temp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`)
  const tempFiles = [temp, `${temp}-wal`, `${temp}-shm`, `${temp}-journal`]
  let restarts = 0
  let placed = false
  try {
    // Created here, empty, with the store file's permissions (the copy holds the same mail).
    closeSync(openSync(temp, 'wx', statSync(sourcePath).mode & 0o666))
    let last = Infinity
    let rate = PAGES_PER_STEP
    const progress = await source.backup(temp, {
      progress({ remainingPages }) {
        // A write by another connection restarts the copy from its first page; a busy worker
        // would restart it forever. Once that happens, the rest is copied in one step.
        if (remainingPages >= last && rate !== ALL_PAGES) {
          restarts++
          rate = ALL_PAGES
        }
        last = remainingPages
        return rate
      },
    })
    source.close()

    // The copy is checked before it takes FILE's name: a FILE is never a damaged backup.
    const copy = new Database(temp, { fileMustExist: true })
    let integrity: string
    let messages: number
    let pageSize: number
    let schemaVersion: number | null
    try {
      // One self-contained file (also readable from read-only media); a store switches it
      // back to WAL when it opens it.
      copy.pragma('journal_mode = DELETE')
      copy.pragma('synchronous = FULL')
      integrity = (copy.pragma('integrity_check') as { integrity_check: string }[])
        .map((r) => r.integrity_check)
        .join('; ')
      messages = (copy.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n
      pageSize = copy.pragma('page_size', { simple: true }) as number
      schemaVersion =
        (
          copy.prepare('SELECT max(version) AS v FROM outbox_migrations').get() as {
            v: number | null
          }
        ).v ?? null
    } finally {
      copy.close()
    }
    if (integrity !== 'ok')
      throw new CliExit(EXIT.failed, `the copy failed PRAGMA integrity_check: ${integrity}`)

    syncPath(temp)
    if (force) {
      renameSync(temp, file)
    } else {
      // link() never replaces: a FILE created meanwhile is not overwritten.
      try {
        linkSync(temp, file)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST')
          throw new CliExit(EXIT.usage, `${file} exists; pass --force to replace it`)
        throw error
      }
      rmSync(temp)
    }
    placed = true
    syncPath(dirname(file))
    return {
      source: sourcePath,
      file,
      pages: progress.totalPages,
      pageSize,
      bytes: statSync(file).size,
      ms: Date.now() - started,
      restarts,
      integrity: 'ok',
      messages,
      schemaVersion,
    }
  } catch (error) {
    if (error instanceof CliExit) throw error
    throw new CliExit(EXIT.failed, `backup of ${sourcePath} failed: ${(error as Error).message}`)
  } finally {
    if (source.open) source.close()
    for (const f of placed ? tempFiles.slice(1) : tempFiles) rmSync(f, { force: true })
  }
}

export function registerBackupCommand(program: Command): void {
  program
    .command('backup')
    .description(
      'copy the SQLite store to FILE while workers run (online backup), check the copy with ' +
        'PRAGMA integrity_check; PostgreSQL, MariaDB and Redis stores use their own tools',
    )
    .argument('<file>', 'the backup file to write (refused if it exists, unless --force)')
    .option('--force', 'replace FILE if it exists')
    .option('--json', 'print JSON')
    .action(async (file: string, opts: { force?: boolean; json?: boolean }, command: Command) => {
      const { config } = commandConfig(command)
      const sourcePath = sqlitePath(config.store)
      const result = await backup(sourcePath, resolve(file), opts.force === true)
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
        return
      }
      process.stdout.write(
        `backed up ${result.source} to ${result.file}\n` +
          `  ${result.pages} pages of ${result.pageSize} bytes, ${bytes(result.bytes)}, ` +
          `in ${result.ms < 1000 ? `${result.ms} ms` : `${(result.ms / 1000).toFixed(1)} s`}` +
          (result.restarts > 0 ? ` (restarted ${result.restarts}× by concurrent writes)` : '') +
          '\n' +
          `  integrity_check ok, ${result.messages} messages, schema version ${result.schemaVersion ?? '-'}\n`,
      )
    })
}
