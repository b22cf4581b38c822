import type { Query } from './driver.js'

/**
 * The SQL of mail enqueued from SQL (`outbox.enqueue()`, see the PostgreSQL migration
 * 0009_sql_enqueue.sql), for dialects whose database has the function.
 */
export interface SubmissionSql {
  /**
   * Locks and returns up to `limit` waiting submissions, oldest first, skipping those another
   * transaction holds: `id`, `raw`, `mail_from`, `rcpt_to`, `priority`, `send_at`,
   * `idempotency_key`, `tags`, `upstream`, `ignore_suppression`.
   */
  takeSubmissions(limit: number): Query
  /** Deletes the submissions that became messages. */
  removeSubmissions(ids: readonly string[]): Query
  /** Keeps a submission that cannot become a message, with the reason, never offered again. */
  refuseSubmission(id: string, reason: string): Query
  /** Writes what the database function checks: the size limit and the upstream names. */
  configureSubmissions(settings: { maxMessageSize: number; upstreams: string[] }): Query
}
