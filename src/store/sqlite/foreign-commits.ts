import type Database from 'better-sqlite3'
import { watch, type FSWatcher } from 'node:fs'
import { basename, dirname } from 'node:path'

const CHECK_EVERY_MS = 10
const WATCH_WINDOW_MS = 1000

/**
 * Calls `onCommit` when another connection (another process, say an app that only enqueues)
 * commits to the database, so a worker there wakes without polling an idle queue.
 *
 * A commit in WAL mode writes frames to the -wal file, which inotify reports, then fsyncs and
 * publishes the commit in the -shm index through mmap, which inotify does not see. So after
 * each -wal event `PRAGMA data_version` (which moves only for other connections' commits) is
 * read every 10 ms until a second has passed without events. Returns a function that stops.
 */
export function watchForeignCommits(
  db: Database.Database,
  path: string,
  onCommit: () => void,
): () => void {
  const walName = `${basename(path)}-wal`
  const readVersion = (): number => Number(db.pragma('data_version', { simple: true }))
  let lastVersion = readVersion()
  let lastEventAt = 0
  let timer: NodeJS.Timeout | null = null
  let watcher: FSWatcher | null = null

  const check = (): void => {
    timer = null
    if (!db.open) return
    const version = readVersion()
    if (version !== lastVersion) {
      lastVersion = version
      onCommit()
    }
    if (Date.now() - lastEventAt < WATCH_WINDOW_MS) schedule()
  }
  const schedule = (): void => {
    timer = setTimeout(check, CHECK_EVERY_MS)
    timer.unref()
  }

  try {
    watcher = watch(dirname(path), { persistent: false }, (_event, file) => {
      if (file !== walName) return
      lastEventAt = Date.now()
      if (!timer) {
        timer = setTimeout(check, 0)
        timer.unref()
      }
    })
    watcher.on('error', () => watcher?.close())
  } catch {
    // No inotify (or the folder vanished): workers still wake at due times and on local sends.
  }
  return () => {
    if (timer) clearTimeout(timer)
    timer = null
    watcher?.close()
  }
}
