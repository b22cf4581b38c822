import { existsSync, statfsSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fail, ok, reason, warn, type CheckResult } from './check.js'
import { parseStoreUrl } from '../store/store-url.js'

const MiB = 1024 * 1024
const GiB = 1024 * MiB

/** `1536 MiB` → "1.5 GiB". */
function size(bytes: number): string {
  return bytes >= GiB ? `${(bytes / GiB).toFixed(1)} GiB` : `${Math.round(bytes / MiB)} MiB`
}

/** Free space of one folder: under 100 MiB fails; under 1 GiB or 5 % warns. */
export function checkFolder(what: string, folder: string): CheckResult {
  const check = `disk ${what}`
  if (!existsSync(folder))
    return fail(
      check,
      `the folder ${folder} does not exist`,
      'create it (Outbox never creates missing folders)',
    )
  let free: number
  let total: number
  try {
    const s = statfsSync(folder)
    free = s.bavail * s.bsize
    total = s.blocks * s.bsize
  } catch (error) {
    return warn(
      check,
      `cannot read the free space of ${folder}: ${reason(error)}`,
      'check the folder',
    )
  }
  const percent = total > 0 ? (free / total) * 100 : 100
  const found = `${size(free)} free (${percent.toFixed(0)} %) in ${folder}`
  if (free < 100 * MiB)
    return fail(check, found, 'free disk space now: writes fail when it runs out')
  if (free < GiB || percent < 5)
    return warn(check, found, 'free disk space, or purge old mail (outbox purge --older-than 30d)')
  return ok(check, found)
}

/** The file of a SQLite store, or null (another backend, in memory, or not a store URL). */
function sqliteFile(store: string): string | null {
  try {
    const parsed = parseStoreUrl(store)
    return parsed.kind === 'sqlite' && parsed.path !== ':memory:' ? parsed.path : null
  } catch {
    // The store check reports a bad URL.
    return null
  }
}

/** The folders Outbox writes to: the SQLite store's, and `log.file`'s. */
export function checkDisk(store: string, logFile: string | null): CheckResult[] {
  const results: CheckResult[] = []
  const file = sqliteFile(store)
  if (file) results.push(checkFolder('store', dirname(file)))
  if (logFile) results.push(checkFolder('log', dirname(resolve(logFile))))
  return results
}
