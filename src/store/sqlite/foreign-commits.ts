import type Database from 'better-sqlite3'
import { watch, type FSWatcher } from 'node:fs'
import { basename, dirname } from 'node:path'

/**
 * Calls `onCommit` when another connection (another process, say an app that only enqueues)
 * commits to the database, so a worker there wakes without polling.
 *
 * Every commit in WAL mode writes the -wal file, which inotify reports; `PRAGMA data_version`
 * then tells whether the change came from another connection (it does not move for our own).
 * Returns a function that stops watching.
 */
export function watchForeignCommits(
  db: Database.Database,
  path: string,
  onCommit: () => void,
): () => void {
  const walName = `${basename(path)}-wal`
  const readVersion = (): number => Number(db.pragma('data_version', { simple: true }))
  let lastVersion = readVersion()
  let scheduled = false
  let watcher: FSWatcher | null = null

  const check = (): void => {
    scheduled = false
    if (!db.open) return
    const version = readVersion()
    if (version !== lastVersion) {
      lastVersion = version
      onCommit()
    }
  }

  try {
    watcher = watch(dirname(path), { persistent: false }, (_event, file) => {
      if (file !== walName || scheduled) return
      scheduled = true
      setImmediate(check)
    })
    watcher.on('error', () => watcher?.close())
  } catch {
    // No inotify (or the folder vanished): workers still wake at due times and on local sends.
  }
  return () => watcher?.close()
}
