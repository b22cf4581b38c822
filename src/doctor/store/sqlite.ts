import Database from 'better-sqlite3'
import { existsSync, readFileSync, realpathSync } from 'node:fs'
import { dirname, sep } from 'node:path'
import type { StoreUrl } from '../../store/store-url.js'
import { fail, ok, reason, warn, type CheckResult } from '../check.js'
import { latestVersion, schemaLine } from './store-lines.js'

/** Filesystem types on which SQLite's locking and fsync cannot be trusted. */
const NETWORK_FS = /^(nfs\d?|cifs|smb\d?|smbfs|fuse\.sshfs|9p|afs|ceph|glusterfs|fuse\.glusterfs)$/

/** The mount holding `path` (the longest mount point above it), from /proc/mounts. */
export function mountOf(path: string): { point: string; type: string; source: string } | null {
  let text: string
  try {
    text = readFileSync('/proc/mounts', 'utf8')
  } catch {
    return null
  }
  let best: { point: string; type: string; source: string } | null = null
  for (const line of text.split('\n')) {
    const [source, rawPoint, type] = line.split(' ')
    if (!source || !rawPoint || !type) continue
    // Spaces and the like are octal escapes in /proc/mounts.
    const point = rawPoint.replace(/\\([0-7]{3})/g, (_, o: string) =>
      String.fromCharCode(parseInt(o, 8)),
    )
    const inside = point === '/' || path === point || path.startsWith(point + sep)
    if (inside && (!best || point.length >= best.point.length)) best = { point, type, source }
  }
  return best
}

/** The SQLite store's lines: the file, its schema and journal, and the filesystem it is on. */
export function checkSqlite(store: Extract<StoreUrl, { kind: 'sqlite' }>): CheckResult[] {
  const { path } = store
  if (path === ':memory:')
    return [
      warn(
        'store',
        'an in-memory SQLite store: queued mail is lost when the process ends',
        'use a file, such as sqlite:/var/lib/outbox/outbox.db',
      ),
    ]
  if (!existsSync(path))
    return [
      fail(
        'store',
        `no queue at ${path}`,
        'run outbox migrate or outbox start (or check the store path: --store, OUTBOX_STORE)',
      ),
    ]
  const results: CheckResult[] = []
  let db: Database.Database
  try {
    db = new Database(path, { readonly: true, fileMustExist: true })
  } catch (error) {
    return [
      fail('store', `cannot open ${path}: ${reason(error)}`, 'check the file and its permissions'),
    ]
  }
  try {
    db.pragma('busy_timeout = 5000')
    const hasTable = db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'outbox_migrations'")
      .get()
    results.push(ok('store', `SQLite ${path}, readable`))
    const current = hasTable
      ? ((
          db.prepare('SELECT max(version) AS v FROM outbox_migrations').get() as {
            v: number | null
          }
        ).v ?? 0)
      : null
    results.push(schemaLine(current, latestVersion('sqlite'), path))
    const journal = String(db.pragma('journal_mode', { simple: true }))
    // synchronous is a connection's setting: Outbox sets FULL on each of its connections.
    results.push(
      journal === 'wal'
        ? ok(
            'store durability',
            'journal_mode wal; Outbox sets synchronous FULL on its connections',
          )
        : ok(
            'store durability',
            `journal_mode ${journal}; Outbox switches it to wal and sets synchronous FULL when it opens the file`,
          ),
    )
  } catch (error) {
    const code = (error as { code?: unknown }).code
    results.push(
      fail(
        'store',
        code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT'
          ? `${path} is not an Outbox database or is damaged: ${reason(error)}`
          : `cannot read ${path}: ${reason(error)}`,
        'check the store path (--store, OUTBOX_STORE); restore a backup if it is damaged',
      ),
    )
  } finally {
    db.close()
  }
  let real = path
  try {
    real = realpathSync(dirname(path))
  } catch {
    // The folder exists (the file does): keep the path as written.
  }
  const mount = mountOf(real)
  if (mount && NETWORK_FS.test(mount.type)) {
    results.push(
      warn(
        'store filesystem',
        `${path} is on a network filesystem (${mount.type} ${mount.source} at ${mount.point})`,
        'SQLite locking and fsync are unreliable there: put the file on a local disk, or use PostgreSQL',
      ),
    )
  }
  return results
}
