import { ok, warn, type CheckResult } from '../check.js'

/** A submission waiting this long means no worker is moving them into the queue. */
const STALE_SECONDS = 60

/** What `outbox.enqueue()` left in the submissions table, as counted by the store check. */
export interface SubmissionCounts {
  waiting: number
  refused: number
  /** Age of the oldest waiting one, or null when none waits. */
  oldestSeconds: number | null
  /** The newest refusal's reason, or null. */
  lastError: string | null
}

/**
 * The line of mail enqueued with SQL: refused submissions (the caller saw no error: only the
 * worker's log and this say so) and submissions no worker takes.
 */
export function submissionsLine(counts: SubmissionCounts, table: string): CheckResult {
  const check = 'store sql enqueue'
  if (counts.refused > 0) {
    return warn(
      check,
      `${counts.refused} submission(s) refused, kept in ${table}; the newest: ${counts.lastError ?? '?'}`,
      `see SELECT id, error, created_at FROM ${table} WHERE error IS NOT NULL; fix the caller, then delete those rows`,
    )
  }
  if (counts.waiting > 0 && (counts.oldestSeconds ?? 0) > STALE_SECONDS) {
    return warn(
      check,
      `${counts.waiting} submission(s) waiting, the oldest for ${Math.round(counts.oldestSeconds!)} s`,
      'start a worker on this store (outbox start or outbox worker): workers move them into the queue',
    )
  }
  return ok(check, `${counts.waiting} submission(s) waiting, none refused`)
}
