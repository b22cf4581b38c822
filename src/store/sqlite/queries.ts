/** Every runtime SQL statement of the SQLite store, by name. Schema changes go in migrations/. */

const CLAIMABLE = `status IN ('queued', 'deferred')`

/** Every column of a message row but the bytes, for listings (aliased `m`). */
export const SUMMARY_COLUMNS = `m.id, m.message_id, m.status, m.priority, m.mail_from, m.recipients,
  m.subject, m.tags, m.size, m.idempotency_key, m.created_at, m.due_at, m.expires_at, m.attempts,
  m.reason, m.last_error, m.captured, m.lease_owner, m.lease_expires_at, m.finished_at`

export const SQL = {
  insertMessage: `
    INSERT INTO messages (id, message_id, status, priority, mail_from, recipients, subject, tags,
      size, idempotency_key, created_at, due_at, expires_at, lease_owner, lease_expires_at, updated_at,
      eight_bit, smtputf8)
    VALUES (@id, @messageId, @status, @priority, @from, @recipients, @subject, @tags,
      @size, @idempotencyKey, @createdAt, @dueAt, @expiresAt, @leaseOwner, @leaseExpiresAt, @createdAt,
      @eightBit, @smtpUtf8)`,
  insertBody: `INSERT INTO message_bodies (id, raw) VALUES (?, ?)`,
  insertRecipient: `
    INSERT INTO recipients (message_id, position, address, status, updated_at)
    VALUES (?, ?, ?, 'pending', ?)`,
  insertTag: `INSERT OR IGNORE INTO message_tags (tag, message_id) VALUES (?, ?)`,
  findByIdempotencyKey: `SELECT id, message_id FROM messages WHERE idempotency_key = ?`,

  // One query per priority keeps each an index range scan on messages_claimable, however many
  // messages of a higher priority wait for a later time.
  claimableIds: `
    SELECT id FROM messages
    WHERE ${CLAIMABLE} AND priority = ? AND due_at <= ?
    ORDER BY due_at, id LIMIT ?`,
  expiredLeaseIds: `
    SELECT id FROM messages
    WHERE status = 'sending' AND lease_expires_at <= ?
    ORDER BY priority, lease_expires_at LIMIT ?`,
  lease: `
    UPDATE messages SET status = 'sending', lease_owner = ?, lease_expires_at = ?, updated_at = ?
    WHERE id = ?`,
  claimedRow: `
    SELECT m.id, m.message_id, m.mail_from, m.priority, m.attempts, m.backoff_step,
      m.created_at, m.expires_at, m.eight_bit, m.smtputf8, b.raw
    FROM messages m LEFT JOIN message_bodies b ON b.id = m.id
    WHERE m.id = ?`,
  pendingRecipients: `
    SELECT address FROM recipients WHERE message_id = ? AND status = 'pending' ORDER BY position`,

  failedRecipientCount: `
    SELECT count(*) AS n FROM recipients WHERE message_id = ? AND status = 'failed'`,

  renewLease: `
    UPDATE messages SET lease_expires_at = ?
    WHERE id = ? AND status = 'sending' AND lease_owner = ?`,
  release: `
    UPDATE messages
    SET status = CASE WHEN attempts = 0 THEN 'queued' ELSE 'deferred' END,
      due_at = ?, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
    WHERE id = ? AND status = 'sending' AND lease_owner = ?`,

  insertAttempt: `
    INSERT INTO attempts (message_id, worker, started_at, duration_ms, outcome, error, recipients)
    VALUES (?, ?, ?, ?, ?, ?, ?)`,
  leaseHolder: `SELECT status, lease_owner FROM messages WHERE id = ?`,
  updateRecipient: `
    UPDATE recipients SET status = ?, code = ?, reply = ?, updated_at = ?
    WHERE message_id = ? AND address = ? AND status = 'pending'`,
  finishAttempt: `
    UPDATE messages SET status = @status, due_at = @dueAt, attempts = attempts + 1,
      backoff_step = backoff_step + @backoffIncrement, waiting_upstream = @waitingUpstream,
      lease_owner = NULL, lease_expires_at = NULL, reason = @reason, last_error = @lastError,
      captured = @captured, updated_at = @now, finished_at = @finishedAt
    WHERE id = @id`,

  nextClaimableDue: `SELECT min(due_at) AS t FROM messages WHERE ${CLAIMABLE}`,
  nextLeaseExpiry: `SELECT min(lease_expires_at) AS t FROM messages WHERE status = 'sending'`,

  wakeUpstreamWaiters: `
    UPDATE messages SET due_at = ?, waiting_upstream = 0, updated_at = ?
    WHERE status = 'deferred' AND waiting_upstream = 1`,

  overdueIds: `SELECT id FROM messages WHERE status = 'deferred' AND expires_at <= ? LIMIT 1000`,
  expireRecipients: `
    UPDATE recipients SET status = 'failed', reply = 'expired: not delivered before the maximum age',
      updated_at = ?
    WHERE message_id = ? AND status = 'pending'`,
  expireMessage: `
    UPDATE messages SET status = 'failed', reason = 'expired', due_at = NULL, waiting_upstream = 0,
      updated_at = ?, finished_at = ?
    WHERE id = ? AND status = 'deferred'`,

  messageRow: `SELECT * FROM messages WHERE id = ?`,
  recipientRows: `
    SELECT address, status, code, reply FROM recipients WHERE message_id = ? ORDER BY position`,
  attemptRows: `
    SELECT worker, started_at, duration_ms, outcome, error, recipients
    FROM attempts WHERE message_id = ? ORDER BY id`,
  raw: `SELECT raw FROM message_bodies WHERE id = ?`,
  countByStatus: `SELECT status, count(*) AS n FROM messages GROUP BY status`,
  finishedSince: `SELECT count(*) AS n FROM messages WHERE status = ? AND finished_at >= ?`,
  activityBuckets: `
    SELECT (started_at / CAST(@bucketMs AS INTEGER)) * CAST(@bucketMs AS INTEGER) AS bucket, outcome, count(*) AS n
    FROM attempts WHERE started_at >= @since GROUP BY bucket, outcome`,
  lastSuccess: `
    SELECT started_at AS t FROM attempts WHERE outcome IN ('sent', 'captured', 'partial')
    ORDER BY started_at DESC LIMIT 1`,
  lastError: `
    SELECT started_at AS t, error FROM attempts WHERE error IS NOT NULL
    ORDER BY started_at DESC LIMIT 1`,
  // Scans back only to the last delivery: a healthy upstream has few attempts after it.
  upstreamProblem: `
    SELECT started_at AS t, outcome, error FROM attempts
    WHERE outcome IN ('upstream-down', 'misconfigured') AND started_at > coalesce(
      (SELECT max(started_at) FROM attempts WHERE outcome IN ('sent', 'captured', 'partial')), -1)
    ORDER BY started_at DESC LIMIT 1`,
  oldestWaiting: `
    SELECT min(created_at) AS t FROM messages WHERE status IN ('queued', 'deferred', 'sending')`,

  requeueRecipients: `
    UPDATE recipients SET status = 'pending', updated_at = ? WHERE message_id = ? AND status = 'failed'`,
  requeueFailed: `
    UPDATE messages SET status = 'queued', due_at = ?, expires_at = ?, backoff_step = 0,
      waiting_upstream = 0, reason = NULL, finished_at = NULL, updated_at = ?
    WHERE id = ? AND status = 'failed'`,
} as const
