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
  // A commit writes the -wal file and then the -shm index; the new data_version is visible
  // only once the index is written, so look again a moment after the last event of a burst.
  const files = new Set([`${basename(path)}-wal`, `${basename(path)}-shm`])
  const readVersion = (): number => Number(db.pragma('data_version', { simple: true }))
  let lastVersion = readVersion()
  let immediate = false
  let trailing: NodeJS.Timeout | null = null
  let watcher: FSWatcher | null = null

  const check = (): void => {
    if (!db.open) return
    const version = readVersion()
    if (version !== lastVersion) {
      lastVersion = version
      onCommit()
    }
  }

  try {
    watcher = watch(dirname(path), { persistent: false }, (_event, file) => {
      if (!file || !files.has(String(file))) return
      if (!immediate) {
        immediate = true
        setImmediate(() => {
          immediate = false
          check()
        })
      }
      if (trailing) clearTimeout(trailing)
      trailing = setTimeout(() => {
        trailing = null
        check()
      }, 5)
      trailing.unref()
    })
    watcher.on('error', () => watcher?.close())
  } catch {
    // No inotify (or the folder vanished): workers still wake at due times and on local sends.
  }
  return () => {
    if (trailing) clearTimeout(trailing)
    watcher?.close()
  }
}
