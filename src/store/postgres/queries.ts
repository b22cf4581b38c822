/**
 * Every runtime SQL statement of the PostgreSQL store, by name, for one schema. Schema
 * changes go in migrations/. Every time that matters is `now()`: the database's clock.
 */
export function createQueries(s: string) {
  const CLAIMABLE = `status IN ('queued', 'deferred')`
  const ms = (param: string) => `(${param}::double precision * interval '1 millisecond')`
  return {
    // A whole batch in one statement (one round trip): each field of the batch comes as an array,
    // unnested back into rows; the bytes come as one parameter per message (sent in binary,
    // where an array literal would carry them as hex text). Recipients and tags come as one JSON
    // array per message (SQL arrays must be rectangular). A message whose idempotency key is
    // already stored is not inserted (ON CONFLICT waits for the transaction holding the key) and
    // its id is not among `ids`. The NOTIFY waking workers goes out, at commit, only if something
    // was inserted. $17 is the channel, $18… the bytes of each message.
    insertMessages: (count: number) => `
      WITH input AS (
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::smallint[], $5::text[],
          $6::jsonb[], $7::text[], $8::jsonb[], $9::int[], $10::text[], $11::timestamptz[],
          $12::float8[], $13::text[], $14::float8[], $15::boolean[], $16::boolean[],
          ARRAY[${Array.from({ length: count }, (_, i) => `$${18 + i}::bytea`).join(', ')}])
          AS i(id, message_id, status, priority, mail_from, recipients, subject, tags, size,
            idempotency_key, send_at, max_age_ms, lease_owner, lease_ms, eight_bit, smtputf8, raw)
      ), m AS (
        INSERT INTO ${s}.messages (id, message_id, status, priority, mail_from, recipients, subject,
          tags, size, idempotency_key, due_at, expires_at, lease_owner, lease_expires_at,
          eight_bit, smtputf8)
        SELECT id, message_id, status, priority, mail_from, recipients, subject, tags, size,
          idempotency_key,
          CASE WHEN status = 'sending' THEN NULL ELSE coalesce(send_at, now()) END,
          greatest(coalesce(send_at, now()), now()) + ${ms('max_age_ms')},
          lease_owner, CASE WHEN lease_owner IS NULL THEN NULL ELSE now() + ${ms('lease_ms')} END,
          eight_bit, smtputf8
        FROM input
        ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
        RETURNING id
      ), b AS (
        INSERT INTO ${s}.message_bodies (id, raw) SELECT i.id, i.raw FROM input i JOIN m ON m.id = i.id
      ), r AS (
        INSERT INTO ${s}.recipients (message_id, position, address, status)
        SELECT i.id, t.n - 1, t.address, 'pending'
        FROM input i JOIN m ON m.id = i.id,
          jsonb_array_elements_text(i.recipients) WITH ORDINALITY AS t(address, n)
      ), g AS (
        INSERT INTO ${s}.message_tags (tag, message_id)
        SELECT DISTINCT t.tag, i.id
        FROM input i JOIN m ON m.id = i.id, jsonb_array_elements_text(i.tags) AS t(tag)
      )
      SELECT a.ids, CASE WHEN a.ids IS NOT NULL THEN pg_notify($17, '') END AS notified
      FROM (SELECT array_agg(id) AS ids FROM m) a`,
    findByIdempotencyKeys: `
      SELECT id, message_id, idempotency_key FROM ${s}.messages WHERE idempotency_key = ANY($1)`,
    notify: `SELECT pg_notify($1, '')`,

    claimExpiredLeases: `
      UPDATE ${s}.messages SET lease_owner = $1, lease_expires_at = now() + ${ms('$3')}, updated_at = now()
      WHERE id IN (
        SELECT id FROM ${s}.messages WHERE status = 'sending' AND lease_expires_at <= now()
        ORDER BY priority, lease_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)
      RETURNING id, priority, due_at`,
    // One statement per priority keeps each an index range scan on messages_claimable.
    claimDue: `
      UPDATE ${s}.messages SET status = 'sending', lease_owner = $1,
        lease_expires_at = now() + ${ms('$3')}, updated_at = now()
      WHERE id IN (
        SELECT id FROM ${s}.messages WHERE ${CLAIMABLE} AND priority = $4 AND due_at <= now()
        ORDER BY due_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
      RETURNING id, priority, due_at`,
    // Times as how long ago / from now by the database's clock: the store turns them into the
    // caller's clock, so a worker whose clock is off compares like with like.
    claimedRows: `
      SELECT m.id, m.message_id, m.mail_from, m.priority, m.attempts, m.backoff_step,
        m.eight_bit, m.smtputf8,
        extract(epoch FROM now() - m.created_at)::float8 * 1000 AS created_ago_ms,
        extract(epoch FROM m.expires_at - now())::float8 * 1000 AS expires_in_ms, b.raw,
        ARRAY(SELECT address FROM ${s}.recipients r
              WHERE r.message_id = m.id AND r.status = 'pending' ORDER BY position) AS pending,
        (SELECT count(*) FROM ${s}.recipients r WHERE r.message_id = m.id AND r.status = 'failed')::int AS failed
      FROM ${s}.messages m LEFT JOIN ${s}.message_bodies b ON b.id = m.id
      WHERE m.id = ANY($1)`,

    // Both lock their rows in id order, as a batch of completions does: a worker renewing or
    // releasing leases while its completions are written must not deadlock with itself.
    renewLeases: `
      UPDATE ${s}.messages SET lease_expires_at = now() + ${ms('$3')}
      WHERE id IN (
        SELECT id FROM ${s}.messages WHERE id = ANY($1) AND status = 'sending' AND lease_owner = $2
        ORDER BY id FOR UPDATE)
      RETURNING id`,
    releaseLeases: `
      UPDATE ${s}.messages
      SET status = CASE WHEN attempts = 0 THEN 'queued' ELSE 'deferred' END,
        due_at = now(), lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
      WHERE id IN (
        SELECT id FROM ${s}.messages WHERE id = ANY($1) AND status = 'sending' AND lease_owner = $2
        ORDER BY id FOR UPDATE)`,

    // A batch of completions in one statement (one round trip, one commit), each given as a JSON
    // object: the attempts, the recipients and the messages. An outcome applies only while its
    // completion's owner holds the lease; the attempt is logged whenever the message still
    // exists. Rows are locked in id order, so concurrent batches cannot deadlock. Returns the
    // ids whose outcome applied. Times come as durations (how long ago the attempt started,
    // how long until the next one), measured on the worker's clock and applied to now().
    complete: `
      WITH input AS (
        SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(ord int, id text, owner text,
          worker text, started_ago_ms float8, duration_ms int, outcome text, error text,
          attempt_recipients jsonb, recipients jsonb, status text, delay_ms float8,
          backoff_increment int, waiting_upstream boolean, reason text, captured boolean)
      ), holder AS (
        SELECT m.id, i.ord FROM ${s}.messages m JOIN input i ON i.id = m.id
        WHERE m.status = 'sending' AND m.lease_owner = i.owner
        ORDER BY m.id FOR UPDATE OF m
      ), attempt AS (
        INSERT INTO ${s}.attempts (message_id, worker, started_at, duration_ms, outcome, error, recipients)
        SELECT i.id, i.worker, now() - ${ms('i.started_ago_ms')}, i.duration_ms, i.outcome, i.error,
          i.attempt_recipients
        FROM input i WHERE EXISTS (SELECT 1 FROM ${s}.messages WHERE id = i.id)
        ORDER BY i.ord
      ), rcpt AS (
        UPDATE ${s}.recipients r SET status = x.status, code = x.code, reply = x.reply, updated_at = now()
        FROM holder h JOIN input i ON i.ord = h.ord,
          jsonb_to_recordset(i.recipients) AS x(address text, status text, code int, reply text)
        WHERE r.message_id = h.id AND r.address = x.address AND r.status = 'pending'
      )
      UPDATE ${s}.messages m SET status = i.status,
        due_at = CASE WHEN i.status = 'deferred' THEN now() + ${ms('i.delay_ms')} END,
        attempts = attempts + 1, backoff_step = backoff_step + i.backoff_increment,
        waiting_upstream = i.waiting_upstream, lease_owner = NULL, lease_expires_at = NULL,
        reason = i.reason, last_error = i.error, captured = i.captured, updated_at = now(),
        finished_at = CASE WHEN i.status IN ('sent', 'failed') THEN now() END
      FROM holder h JOIN input i ON i.ord = h.ord
      WHERE m.id = h.id
      RETURNING m.id`,

    msUntilNextDue: `
      SELECT extract(epoch FROM (least(
        (SELECT min(due_at) FROM ${s}.messages WHERE ${CLAIMABLE}),
        (SELECT min(lease_expires_at) FROM ${s}.messages WHERE status = 'sending')) - now())) * 1000 AS ms`,
    wakeUpstreamWaiters: `
      UPDATE ${s}.messages SET due_at = now(), waiting_upstream = false, updated_at = now()
      WHERE status = 'deferred' AND waiting_upstream`,
    expireOverdue: `
      WITH e AS (
        UPDATE ${s}.messages SET status = 'failed', reason = 'expired', due_at = NULL,
          waiting_upstream = false, updated_at = now(), finished_at = now()
        WHERE id IN (SELECT id FROM ${s}.messages WHERE status = 'deferred' AND expires_at <= now()
                     LIMIT 1000 FOR UPDATE SKIP LOCKED)
        RETURNING id
      ), r AS (
        UPDATE ${s}.recipients SET status = 'failed',
          reply = 'expired: not delivered before the maximum age', updated_at = now()
        FROM e WHERE recipients.message_id = e.id AND recipients.status = 'pending'
      )
      SELECT count(*)::int AS n FROM e`,

    messageRow: `SELECT * FROM ${s}.messages WHERE id = $1`,
    recipientRows: `
      SELECT address, status, code, reply FROM ${s}.recipients WHERE message_id = $1 ORDER BY position`,
    attemptRows: `
      SELECT worker, started_at, duration_ms, outcome, error, recipients
      FROM ${s}.attempts WHERE message_id = $1 ORDER BY id`,
    raw: `SELECT raw FROM ${s}.message_bodies WHERE id = $1`,
    countByStatus: `SELECT status, count(*)::int AS n FROM ${s}.messages GROUP BY status`,
    finishedSince: `
      SELECT count(*)::int AS n FROM ${s}.messages
      WHERE status = $1 AND finished_at >= now() - ${ms('$2')}`,
    activityBuckets: `
      SELECT (floor(extract(epoch FROM started_at) * 1000 / $2) * $2)::float8 AS bucket, outcome,
        count(*)::int AS n
      FROM ${s}.attempts WHERE started_at >= $1 GROUP BY 1, 2`,
    lastSuccess: `
      SELECT started_at AS t FROM ${s}.attempts WHERE outcome IN ('sent', 'captured', 'partial')
      ORDER BY started_at DESC LIMIT 1`,
    lastError: `
      SELECT started_at AS t, error FROM ${s}.attempts WHERE error IS NOT NULL
      ORDER BY started_at DESC LIMIT 1`,
    // Scans back only to the last delivery: a healthy upstream has few attempts after it.
    upstreamProblem: `
      SELECT started_at AS t, outcome, error FROM ${s}.attempts
      WHERE outcome IN ('upstream-down', 'misconfigured') AND started_at > coalesce(
        (SELECT max(started_at) FROM ${s}.attempts WHERE outcome IN ('sent', 'captured', 'partial')),
        '-infinity')
      ORDER BY started_at DESC LIMIT 1`,
    oldestWaiting: `
      SELECT min(created_at) AS t FROM ${s}.messages WHERE status IN ('queued', 'deferred', 'sending')`,

    requeueFailed: `
      WITH f AS (
        UPDATE ${s}.messages SET status = 'queued', due_at = now(), expires_at = now() + ${ms('$2')},
          backoff_step = 0, waiting_upstream = false, reason = NULL, finished_at = NULL, updated_at = now()
        WHERE id = ANY($1) AND status = 'failed'
        RETURNING id
      ), r AS (
        UPDATE ${s}.recipients SET status = 'pending', updated_at = now()
        FROM f WHERE recipients.message_id = f.id AND recipients.status = 'failed'
      )
      SELECT id FROM f`,
    purgeSlice: `
      DELETE FROM ${s}.messages WHERE id IN (
        SELECT id FROM ${s}.messages WHERE status = ANY($1) AND finished_at < now() - ${ms('$2')}
        LIMIT 5000)`,
  }
}

/** Every column of a message row but the bytes, for listings (aliased `m`). */
export const SUMMARY_COLUMNS = `m.id, m.message_id, m.status, m.priority, m.mail_from, m.recipients,
  m.subject, m.tags, m.size, m.idempotency_key, m.created_at, m.due_at, m.expires_at, m.attempts,
  m.reason, m.last_error, m.captured, m.lease_owner, m.lease_expires_at, m.finished_at`
