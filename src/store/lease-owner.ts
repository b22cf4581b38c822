import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'

/**
 * Lease owners name the process that holds them: `host:pid:s<start>:random`, where `start` is
 * when the process started (clock ticks since boot, from /proc), so that a process that later
 * gets the same pid is not taken for the dead one. A worker can then tell, for owners on its
 * own host, whether they are still alive, and take over a dead worker's leases at once instead
 * of waiting for them to expire. Owners on other hosts, and owners named otherwise (by older
 * versions), cannot be checked and wait for their leases to expire.
 */

/** When process `pid` started, in clock ticks since boot, or null if it is gone or unknown. */
function startTicks(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    // The command name (2nd field) is in parentheses and may hold spaces: count after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return fields[19] ?? null
  } catch {
    return null
  }
}

const HOST = hostname()
const SELF_START = startTicks(process.pid)

/** A new lease owner name for this process. */
export function newLeaseOwner(): string {
  return `${HOST}:${process.pid}:s${SELF_START ?? '?'}:${randomBytes(3).toString('hex')}`
}

/**
 * Whether `owner` is a process on this host that is gone. False whenever that cannot be known
 * for sure: an owner on another host, one named by an older version, or a system without /proc.
 */
export function isDeadLocalOwner(owner: string): boolean {
  const [host, pidText, startText] = owner.split(':')
  const start = /^s(\d+)$/.exec(startText ?? '')?.[1]
  if (host !== HOST || !pidText || !/^\d+$/.test(pidText) || !start || SELF_START === null) {
    return false
  }
  // Gone, or the pid now belongs to a process started at another time.
  return startTicks(Number(pidText)) !== start
}
