import type { CompletionRow } from '../sql/dialect.js'
import type { Query } from '../sql/driver.js'
import { queryBuilder } from '../sql/query.js'
import { NOW, json, lockedChange } from './sql-parts.js'
import type { MariadbTables } from './tables.js'

const q = queryBuilder('?')
/** Longest error text kept per attempt (the column holds 64 KiB). */
const MAX_ERROR_CHARS = 16_000
const clip = (text: string | null) => (text === null ? null : text.slice(0, MAX_ERROR_CHARS))

/** Outcomes: a batch of completions written in a few statements. */
export function completeQueries({ M, R, A }: MariadbTables) {
  /** The outcomes of held leases: recipients, then the messages. */
  function applyOutcomes(held: readonly CompletionRow[]): Query[] {
    const recipients = held.flatMap((c) =>
      c.recipients.map((r) => [c.id, r.address, r.status, r.code, r.reply]),
    )
    const out: Query[] = []
    if (recipients.length > 0) {
      out.push(
        q(
          (p) => `
          UPDATE JSON_TABLE(${p(json(recipients))}, '$[*]' COLUMNS (
              id VARCHAR(64) PATH '$[0]', address TEXT PATH '$[1]', status VARCHAR(16) PATH '$[2]',
              code INT PATH '$[3]', reply TEXT PATH '$[4]')) x
            STRAIGHT_JOIN ${R} r FORCE INDEX (PRIMARY)
            ON r.message_id = x.id AND r.address = x.address
          SET r.status = x.status, r.code = x.code, r.reply = x.reply, r.updated_at = ${NOW}
          WHERE r.status = 'pending'`,
          'completeRecipients',
        ),
      )
    }
    const rows = held.map((c) => ({
      id: c.id,
      status: c.status,
      delay: Math.round(c.delayMs),
      inc: c.backoffIncrement,
      waiting: c.waitingUpstream ? 1 : 0,
      reason: c.reason,
      error: clip(c.error),
      captured: c.captured ? 1 : 0,
    }))
    out.push(
      q(
        (p) => `
        UPDATE JSON_TABLE(${p(json(rows))}, '$[*]' COLUMNS (
            id VARCHAR(64) PATH '$.id', status VARCHAR(16) PATH '$.status',
            delay BIGINT PATH '$.delay', inc INT PATH '$.inc', waiting INT PATH '$.waiting',
            reason VARCHAR(255) PATH '$.reason', error TEXT PATH '$.error',
            captured INT PATH '$.captured')) j
          STRAIGHT_JOIN ${M} m FORCE INDEX (PRIMARY) ON m.id = j.id
        SET m.status = j.status,
          m.due_at = CASE WHEN j.status = 'deferred' THEN ${NOW} + j.delay END,
          m.attempts = m.attempts + 1, m.backoff_step = m.backoff_step + j.inc,
          m.waiting_upstream = j.waiting, m.lease_owner = NULL, m.lease_expires_at = NULL,
          m.reason = j.reason, m.last_error = j.error, m.captured = j.captured,
          m.updated_at = ${NOW},
          m.finished_at = CASE WHEN j.status IN ('sent', 'failed') THEN ${NOW} END`,
        'completeMessages',
      ),
    )
    return out
  }

  // Every attempt is logged while its message exists, first: the recipients' events written by
  // the outcomes name the attempt's upstream. Then the leases still held are locked (in id
  // order, so concurrent batches cannot deadlock) and their outcomes applied.
  return (batch: readonly CompletionRow[]): Query[] => [
    q(
      (p) => `
        INSERT INTO ${A} (message_id, worker, started_at, duration_ms, outcome, error, recipients,
          upstream)
        SELECT j.id, j.worker, ${NOW} - j.ago, j.dur, j.outcome, j.error, j.rcpts, j.upstream
        FROM JSON_TABLE(${p(
          json(
            batch.map((c) => ({
              id: c.id,
              worker: c.worker,
              ago: Math.round(c.startedAgoMs),
              dur: c.durationMs,
              outcome: c.outcome,
              error: clip(c.error),
              rcpts: json(c.attemptRecipients),
              upstream: c.upstream,
            })),
          ),
        )}, '$[*]' COLUMNS (ord FOR ORDINALITY, id VARCHAR(64) PATH '$.id',
          worker VARCHAR(255) PATH '$.worker', ago BIGINT PATH '$.ago', dur INT PATH '$.dur',
          outcome VARCHAR(32) PATH '$.outcome', error TEXT PATH '$.error',
          rcpts LONGTEXT PATH '$.rcpts', upstream VARCHAR(255) PATH '$.upstream')) j
        WHERE EXISTS (SELECT 1 FROM ${M} m WHERE m.id = j.id)
        ORDER BY j.ord`,
      'completeAttempts',
    ),
    lockedChange(
      q(
        (
          p,
        ) => `SELECT m.id FROM JSON_TABLE(${p(json(batch.map((c) => [c.id, c.owner])))}, '$[*]' COLUMNS (
              id VARCHAR(64) PATH '$[0]', owner VARCHAR(255) PATH '$[1]')) j
            STRAIGHT_JOIN ${M} m FORCE INDEX (PRIMARY) ON m.id = j.id AND m.lease_owner = j.owner
            WHERE m.status = 'sending' ORDER BY m.id FOR UPDATE`,
        'completeLock',
      ),
      (locked) => {
        const held = new Set(locked)
        const seen = new Set<string>()
        // One outcome per message: the first of the batch.
        const rows = batch.filter((c) => held.has(c.id) && !seen.has(c.id) && seen.add(c.id))
        return { changes: applyOutcomes(rows) }
      },
    ),
  ]
}
