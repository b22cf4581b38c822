import { postgresSubmissions } from './submission-queries.js'
import { priorityRank } from '../priority-rank.js'
import type { NewMessage } from '../store.js'
import type { CompletionRow, FilterSql, RowCodec, SqlDialect } from '../sql/dialect.js'
import type { Query } from '../sql/driver.js'
import { escapeLike } from '../sql/filter.js'
import { queryBuilder, type Param } from '../sql/query.js'
import { insertChunks } from '../sql/insert-chunks.js'
import { postgresShaping } from './shaping-queries.js'
import { postgresSuppressions } from './suppression-queries.js'
import { postgresEvents } from './event-queries.js'
import { postgresTemplates } from './template-queries.js'
import { templateColumn } from '../sql/template-dialect.js'

/**
 * Every statement of the PostgreSQL store, for one schema. What a worker changes per message
 * lives in the narrow `queue` table (`q`), what is written once in `messages` (`m`); see
 * migration 0003. Every time that matters is `now()`: the database's clock. Lists travel as
 * arrays or JSON, bytes as binary parameters. Schema changes go in migrations/.
 */

const q = queryBuilder('$')
const ms = (value: string) => `(${value}::double precision * interval '1 millisecond')`
const msSince = (time: string) => `(extract(epoch FROM ${time}) * 1000)`
const CLAIMABLE = `q.status IN ('queued', 'deferred')`

/** Most messages, and bytes, in one insert statement; larger batches take several. */
const MAX_INSERT_ROWS = 1000
const MAX_INSERT_BYTES = 16 * 1024 * 1024
/** Batches up to this many messages insert with a prepared statement (one per size). */
const PREPARED_INSERT_SIZES = 16

const chunks = (messages: readonly NewMessage[]): NewMessage[][] =>
  insertChunks(messages, { maxRows: MAX_INSERT_ROWS, maxBytes: MAX_INSERT_BYTES })

const codec: RowCodec = {
  time: (v) => (v instanceof Date ? v.getTime() : v === null || v === undefined ? null : Number(v)),
  json: <T>(v: unknown) => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T)),
  list: (v) => (Array.isArray(v) ? (v as string[]) : (JSON.parse(String(v)) as string[])),
  flag: (v) => v === true,
}

/** The dialect of one schema (quoted, e.g. `"outbox"`) notifying on `channel`. */
export function createPostgresDialect(s: string, channel: string): SqlDialect {
  const FROM = `${s}.queue q JOIN ${s}.messages m ON m.id = q.id`
  const SUMMARY = `q.id, m.message_id, q.status, q.priority, m.mail_from, m.recipients, m.subject,
    m.tags, m.size, m.idempotency_key, m.created_at, q.due_at, q.expires_at, q.attempts,
    q.reason, q.last_error, q.captured, q.lease_owner, q.lease_expires_at, q.finished_at,
    m.upstream`

  const filter: FilterSql = {
    all: 'true',
    // One status as a plain equality: then the planner reads (status, created_at, id) in order
    // and stops at the page's end; with `= ANY(…)` it cannot know the list has one element and
    // sorts every matching row (a second at a million).
    status: (p, statuses) =>
      statuses.length === 1
        ? `q.status = ${p(statuses[0])}`
        : `q.status = ANY(${p([...statuses])}::text[])`,
    from: (p, address) => `lower(m.mail_from) = lower(${p(address)})`,
    toAddress: (p, address) =>
      `m.id IN (SELECT message_id FROM ${s}.recipients WHERE lower(address) = lower(${p(address)}))`,
    toDomain: (p, domain) =>
      `m.id IN (SELECT message_id FROM ${s}.recipients WHERE lower(address) LIKE ${p(`%${escapeLike(domain.toLowerCase())}`)})`,
    tag: (p, tag) => `m.id IN (SELECT message_id FROM ${s}.message_tags WHERE tag = ${p(tag)})`,
    since: (p, date) => `m.created_at >= ${p(date)}`,
    before: (p, date) => `m.created_at < ${p(date)}`,
    subject: (p, text) => `m.subject ILIKE ${p(`%${escapeLike(text)}%`)}`,
    ids: (p, ids) => `q.id = ANY(${p([...ids])}::text[])`,
  }

  /** A whole chunk in one statement: each field as an array, unnested back into rows. */
  function insertChunk(chunk: readonly NewMessage[]): Query {
    return q(
      (p) => {
        const arrays = [
          p(chunk.map((m) => m.id)),
          p(chunk.map((m) => m.messageId)),
          p(chunk.map((m) => (m.leaseTo ? 'sending' : 'queued'))),
          p(chunk.map((m) => priorityRank(m.priority))),
          p(chunk.map((m) => m.envelope.from)),
          p(chunk.map((m) => JSON.stringify(m.envelope.to))),
          p(chunk.map((m) => m.subject)),
          p(chunk.map((m) => JSON.stringify(m.tags))),
          p(chunk.map((m) => m.raw.length)),
          p(chunk.map((m) => m.idempotencyKey)),
          p(chunk.map((m) => m.sendAt)),
          p(chunk.map((m) => m.maxAgeMs)),
          p(chunk.map((m) => m.leaseTo?.owner ?? null)),
          p(chunk.map((m) => m.leaseTo?.leaseMs ?? null)),
          p(chunk.map((m) => m.eightBit ?? null)),
          p(chunk.map((m) => m.smtpUtf8 ?? null)),
          p(chunk.map((m) => m.upstream ?? null)),
          p(chunk.map((m) => m.checkSuppression === true)),
          p(chunk.map((m) => templateColumn(m.template))),
        ]
        const types = [
          'text',
          'text',
          'text',
          'smallint',
          'text',
          'jsonb',
          'text',
          'jsonb',
          'int',
          'text',
          'timestamptz',
          'float8',
          'text',
          'float8',
          'boolean',
          'boolean',
          'text',
          'boolean',
          'jsonb',
        ]
        // The bytes one parameter per message (sent in binary; an array would carry them as hex).
        const bodies = chunk.map((m) => `${p(m.raw)}::bytea`).join(', ')
        return `
      WITH input AS (
        SELECT * FROM unnest(${arrays.map((a, i) => `${a}::${types[i]}[]`).join(', ')}, ARRAY[${bodies}])
          AS i(id, message_id, status, priority, mail_from, recipients, subject, tags, size,
            idempotency_key, send_at, max_age_ms, lease_owner, lease_ms, eight_bit, smtputf8,
            upstream, check_suppression, template, raw)
      ), m AS (
        -- A message whose idempotency key is already stored is not inserted (ON CONFLICT waits
        -- for the transaction holding the key).
        INSERT INTO ${s}.messages (id, message_id, mail_from, recipients, subject, tags, size,
          idempotency_key, eight_bit, smtputf8, upstream, template)
        SELECT id, message_id, mail_from, recipients, subject, tags, size, idempotency_key,
          eight_bit, smtputf8, upstream, template
        FROM input
        ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
        RETURNING id, created_at
      ), x AS (
        -- Whether the suppression list has every recipient of a message that checks it
        -- (NewMessage.checkSuppression): such a message is stored failed, never leased.
        SELECT i.*, i.check_suppression AND NOT EXISTS (
            SELECT 1 FROM jsonb_array_elements_text(i.recipients) a(address)
            WHERE NOT EXISTS (SELECT 1 FROM ${s}.suppressions x WHERE x.address = lower(a.address))
          ) AS doomed
        FROM input i JOIN m ON m.id = i.id
      ), qu AS (
        INSERT INTO ${s}.queue (id, status, priority, created_at, due_at, expires_at, lease_owner,
          lease_expires_at, reason, last_error, finished_at)
        SELECT i.id, CASE WHEN i.doomed THEN 'failed' ELSE i.status END, i.priority, m.created_at,
          CASE WHEN i.doomed OR i.status = 'sending' THEN NULL ELSE coalesce(i.send_at, now()) END,
          greatest(coalesce(i.send_at, now()), now()) + ${ms('i.max_age_ms')},
          CASE WHEN NOT i.doomed THEN i.lease_owner END,
          CASE WHEN NOT i.doomed AND i.lease_owner IS NOT NULL THEN now() + ${ms('i.lease_ms')} END,
          CASE WHEN i.doomed THEN 'suppressed' END,
          CASE WHEN i.doomed THEN (
            SELECT 'suppressed (' || x.reason || coalesce(': ' || x.reply, '') || ')'
            FROM jsonb_array_elements_text(i.recipients) WITH ORDINALITY AS a(address, n)
              JOIN ${s}.suppressions x ON x.address = lower(a.address)
            ORDER BY a.n LIMIT 1) END,
          CASE WHEN i.doomed THEN now() END
        FROM x i JOIN m ON m.id = i.id
      ), fin AS (
        -- Finished at insert: counted here (the counting trigger counts changes of status).
        INSERT INTO ${s}.finished_counts AS f (status, minute, shard, n)
        SELECT 'failed', floor(extract(epoch FROM now()) / 60)::bigint, pg_backend_pid() % 8,
          count(*)
        FROM x WHERE x.doomed HAVING count(*) > 0
        ON CONFLICT (status, minute, shard) DO UPDATE SET n = f.n + excluded.n
      ), b AS (
        INSERT INTO ${s}.message_bodies (id, raw) SELECT i.id, i.raw FROM input i JOIN m ON m.id = i.id
      ), r AS (
        -- A recipient on the list is stored failed, with the text of suppression-reply.ts.
        INSERT INTO ${s}.recipients (message_id, position, address, status, reply)
        SELECT id, position, address, CASE WHEN reply IS NULL THEN 'pending' ELSE 'failed' END,
          reply
        FROM (
          SELECT i.id, t.n - 1 AS position, t.address,
            (SELECT 'suppressed (' || x.reason || coalesce(': ' || x.reply, '') || ')'
             FROM ${s}.suppressions x
             WHERE i.check_suppression AND x.address = lower(t.address)) AS reply
          FROM input i JOIN m ON m.id = i.id,
            jsonb_array_elements_text(i.recipients) WITH ORDINALITY AS t(address, n)
        ) x
        RETURNING message_id, address, reply
      ), g AS (
        INSERT INTO ${s}.message_tags (tag, message_id)
        SELECT DISTINCT t.tag, i.id
        FROM input i JOIN m ON m.id = i.id, jsonb_array_elements_text(i.tags) AS t(tag)
      ), woken AS (
        -- Workers of other processes wake at commit, if anything was stored.
        SELECT pg_notify(${p(channel)}, '') FROM (SELECT 1 FROM m LIMIT 1) one
      )
      SELECT m.id, NULL AS suppressed FROM m CROSS JOIN (SELECT count(*) FROM woken) w
      UNION ALL SELECT message_id, address FROM r WHERE reply IS NOT NULL`
        // Its text depends only on the number of messages: the common small batches (a send()
        // is one) are prepared once per connection instead of planned each time.
      },
      chunk.length <= PREPARED_INSERT_SIZES ? `insert${chunk.length}` : undefined,
    )
  }

  /** A completion batch as rows (`i`), from its JSON. */
  /** What the worker needs of a claimed message; `q`: the alias of its queue row. */
  const claimedColumns = (q: string) => `${q}.id, m.message_id, m.mail_from, ${q}.priority,
          ${q}.attempts, ${q}.backoff_step, m.eight_bit, m.smtputf8, m.tags, m.upstream,
          ${msSince('now() - m.created_at')} AS created_ago_ms,
          ${msSince(`${q}.expires_at - now()`)} AS expires_in_ms, b.raw,
          ARRAY(SELECT address FROM ${s}.recipients r
                WHERE r.message_id = ${q}.id AND r.status = 'pending' ORDER BY position) AS pending,
          (SELECT count(*) FROM ${s}.recipients r
           WHERE r.message_id = ${q}.id AND r.status = 'failed')::int AS failed`

  const completionInput = (p: Param, batch: readonly CompletionRow[]) => `
    SELECT * FROM jsonb_to_recordset(${p(JSON.stringify(batch))}::jsonb) AS x(ord int, id text,
      owner text, worker text, "startedAgoMs" float8, "durationMs" int, outcome text, error text,
      "attemptRecipients" jsonb, upstream text, recipients jsonb, status text, "delayMs" float8,
      "backoffIncrement" int, "waitingUpstream" boolean, reason text, captured boolean)`

  /**
   * Leases due messages: those whose lease expired first, then each priority's due ones, one
   * index range per arm, each limited, so that messages of a higher priority scheduled for later
   * are never scanned. Returns `returning` of each.
   */
  function claimStatement(
    p: Param,
    { owner, limit, leaseMs }: { owner: string; limit: number; leaseMs: number },
    returning = 'q.id',
  ): string {
    const n = p(limit)
    const due = (rank: number) => `
      SELECT * FROM (SELECT q.id, ${rank} AS arm, q.due_at AS t FROM ${s}.queue q
        WHERE ${CLAIMABLE} AND q.priority = ${rank} AND q.due_at <= now()
        ORDER BY q.due_at, q.id LIMIT ${n} FOR UPDATE SKIP LOCKED) a${rank}`
    return `
      WITH picked AS (
        SELECT id FROM (
          SELECT * FROM (SELECT q.id, -1 AS arm, q.lease_expires_at AS t FROM ${s}.queue q
            WHERE q.status = 'sending' AND q.lease_expires_at <= now()
            ORDER BY q.priority, q.lease_expires_at LIMIT ${n} FOR UPDATE SKIP LOCKED) e
          UNION ALL ${[0, 1, 2, 3].map(due).join(' UNION ALL ')}
        ) c ORDER BY arm, t, id LIMIT ${n}
      )
      UPDATE ${s}.queue q SET status = 'sending', lease_owner = ${p(owner)},
        lease_expires_at = now() + ${ms(p(leaseMs))}, updated_at = now()
      FROM picked WHERE q.id = picked.id
      RETURNING ${returning}`
  }

  return {
    kind: 'postgres',
    codec,
    filter,
    ...postgresShaping(s),
    ...postgresEvents(s),
    ...postgresSuppressions(s),
    ...postgresTemplates(s),
    submissions: postgresSubmissions(s),

    insertMessages: (messages) => chunks(messages).map(insertChunk),

    findByIdempotencyKeys: (keys) =>
      q(
        (p) => `SELECT id, message_id, idempotency_key FROM ${s}.messages
          WHERE idempotency_key = ANY(${p([...keys])}::text[])`,
      ),

    notify: () => [q((p) => `SELECT pg_notify(${p(channel)}, '')`, 'notify')],

    claim: (input) => q((p) => claimStatement(p, input), 'claim'),

    // The claim and what the worker needs of the claimed messages, in one round trip.
    claimWithRows: (input) =>
      q(
        (p) => `
        WITH claimed AS (${claimStatement(p, input, 'q.id, q.priority, q.attempts, q.backoff_step, q.expires_at, q.due_at')})
        SELECT ${claimedColumns('c')}
        FROM claimed c JOIN ${s}.messages m ON m.id = c.id
          LEFT JOIN ${s}.message_bodies b ON b.id = c.id
        ORDER BY c.priority, c.due_at, c.id`,
        'claimWithRows',
      ),

    claimedRows: (ids) =>
      q(
        (p) => `
        SELECT ${claimedColumns('q')}
        FROM ${FROM} LEFT JOIN ${s}.message_bodies b ON b.id = q.id
        WHERE q.id = ANY(${p([...ids])}::text[])
        ORDER BY q.priority, q.due_at, q.id`,
        'claimedRows',
      ),

    leaseOwners: () =>
      q(
        () => `SELECT DISTINCT lease_owner AS owner FROM ${s}.queue WHERE status = 'sending'`,
        'leaseOwners',
      ),

    expireLeasesOf: (owners) =>
      q(
        (p) => `UPDATE ${s}.queue SET lease_expires_at = now()
          WHERE status = 'sending' AND lease_owner = ANY(${p([...owners])}::text[])
          RETURNING id`,
      ),

    // Renewing and releasing lock their rows in id order, as a batch of outcomes does: a worker
    // renewing while its outcomes are written must not deadlock with itself.
    renewLeases: ({ owner, ids, leaseMs }) =>
      q(
        (p) => `UPDATE ${s}.queue SET lease_expires_at = now() + ${ms(p(leaseMs))}
          WHERE id IN (SELECT id FROM ${s}.queue
            WHERE id = ANY(${p([...ids])}::text[]) AND status = 'sending' AND lease_owner = ${p(owner)}
            ORDER BY id FOR UPDATE)
          RETURNING id`,
        'renewLeases',
      ),

    releaseLeases: ({ owner, ids, delaysMs }) =>
      q(
        (p) => {
          const leased = `SELECT id FROM ${s}.queue
            WHERE id = ANY(${p([...ids])}::text[]) AND status = 'sending' AND lease_owner = ${p(owner)}
            ORDER BY id FOR UPDATE`
          const release = `status = CASE WHEN q.attempts = 0 THEN 'queued' ELSE 'deferred' END,
            lease_owner = NULL, lease_expires_at = NULL, updated_at = now()`
          if (!delaysMs) {
            return `UPDATE ${s}.queue q SET ${release}, due_at = now()
              WHERE id IN (${leased}) RETURNING q.id`
          }
          // Each id with its delay.
          return `UPDATE ${s}.queue q SET ${release}, due_at = now() + ${ms('d.delay')}
            FROM unnest(${p([...ids])}::text[], ${p([...delaysMs])}::float8[]) AS d(id, delay)
            WHERE q.id = d.id AND q.id IN (${leased}) RETURNING q.id`
        },
        delaysMs ? 'releaseLeasesLater' : 'releaseLeases',
      ),

    // One statement per batch: the attempts, the recipients and the messages. An outcome
    // applies only while its owner holds the lease; the attempt is logged whenever the message
    // still exists. Rows are locked in id order, so concurrent batches cannot deadlock.
    complete: (batch) => [
      q(
        (p) => `
        WITH input AS (${completionInput(p, batch)}
        ), holder AS (
          SELECT q.id, i.ord FROM ${s}.queue q JOIN input i ON i.id = q.id
          WHERE q.status = 'sending' AND q.lease_owner = i.owner
          ORDER BY q.id FOR UPDATE OF q
        ), attempt AS (
          INSERT INTO ${s}.attempts (message_id, worker, started_at, duration_ms, outcome, error,
            recipients, upstream)
          SELECT i.id, i.worker, now() - ${ms('i."startedAgoMs"')}, i."durationMs", i.outcome,
            i.error, i."attemptRecipients", i.upstream
          FROM input i WHERE EXISTS (SELECT 1 FROM ${s}.messages WHERE id = i.id)
          ORDER BY i.ord
        ), rcpt AS (
          UPDATE ${s}.recipients r SET status = x.status, code = x.code, reply = x.reply,
            updated_at = now()
          FROM holder h JOIN input i ON i.ord = h.ord,
            jsonb_to_recordset(i.recipients) AS x(address text, status text, code int, reply text)
          WHERE r.message_id = h.id AND r.address = x.address AND r.status = 'pending'
        )
        UPDATE ${s}.queue q SET status = i.status,
          due_at = CASE WHEN i.status = 'deferred' THEN now() + ${ms('i."delayMs"')} END,
          attempts = q.attempts + 1, backoff_step = q.backoff_step + i."backoffIncrement",
          waiting_upstream = i."waitingUpstream", lease_owner = NULL, lease_expires_at = NULL,
          reason = i.reason, last_error = i.error, captured = i.captured, updated_at = now(),
          finished_at = CASE WHEN i.status IN ('sent', 'failed') THEN now() END
        FROM holder h JOIN input i ON i.ord = h.ord
        WHERE q.id = h.id
        RETURNING q.id`,
        'complete',
      ),
    ],

    wakeUpstreamWaiters: () =>
      q(
        () => `UPDATE ${s}.queue SET due_at = now(), waiting_upstream = false, updated_at = now()
          WHERE status = 'deferred' AND waiting_upstream RETURNING id`,
      ),

    expireOverdue: () => [
      q(
        () => `
        WITH e AS (
          UPDATE ${s}.queue SET status = 'failed', reason = 'expired', due_at = NULL,
            waiting_upstream = false, updated_at = now(), finished_at = now()
          WHERE id IN (SELECT id FROM ${s}.queue WHERE status = 'deferred' AND expires_at <= now()
                       ORDER BY expires_at, id LIMIT 1000 FOR UPDATE SKIP LOCKED)
          RETURNING id
        ), r AS (
          UPDATE ${s}.recipients SET status = 'failed',
            reply = 'expired: not delivered before the maximum age', updated_at = now()
          FROM e WHERE recipients.message_id = e.id AND recipients.status = 'pending'
        )
        SELECT id FROM e`,
      ),
    ],

    msUntilNextDue: () =>
      q(() => {
        // The smallest due time is the smallest of each priority's: four index seeks.
        const due = [0, 1, 2, 3].map(
          (rank) =>
            `(SELECT min(q.due_at) FROM ${s}.queue q WHERE ${CLAIMABLE} AND q.priority = ${rank})`,
        )
        return `SELECT ${msSince(`least(${due.join(', ')},
          (SELECT min(lease_expires_at) FROM ${s}.queue WHERE status = 'sending')) - now()`)} AS ms`
      }, 'msUntilNextDue'),

    messageRow: (id) =>
      q((p) => `SELECT ${SUMMARY}, m.template FROM ${FROM} WHERE q.id = ${p(id)}`),
    recipientRows: (id) =>
      q(
        (p) => `SELECT address, coalesce(feedback, status) AS status, code, reply
          FROM ${s}.recipients WHERE message_id = ${p(id)} ORDER BY position`,
      ),
    attemptRows: (id) =>
      q(
        (p) => `SELECT worker, started_at, duration_ms, outcome, error, recipients, upstream
          FROM ${s}.attempts WHERE message_id = ${p(id)} ORDER BY id`,
      ),
    raw: (id) => q((p) => `SELECT raw FROM ${s}.message_bodies WHERE id = ${p(id)}`),

    listPage: ({ where, statuses, after, limit }) =>
      q((p) => {
        // Newest first along an index: queue's (status, created_at, id) for a status filter,
        // one range per status merged, messages' (created_at, id) otherwise. Both tables hold
        // the same creation time.
        const t = statuses.length > 0 ? 'q' : 'm'
        const cursor = after
          ? ` AND (${t}.created_at, ${t}.id) < (${p(new Date(after.createdAt))}, ${p(after.id)})`
          : ''
        const n = p(limit)
        const page = (extra: string) => `SELECT ${SUMMARY}, ${t}.created_at AS at_ FROM ${FROM}
          WHERE ${where(p)}${extra}${cursor} ORDER BY ${t}.created_at DESC, ${t}.id DESC LIMIT ${n}`
        if (statuses.length < 2) return page('')
        const arms = statuses.map((status) => `(${page(` AND q.status = ${p(status)}`)})`)
        return `SELECT * FROM (${arms.join(' UNION ALL ')}) pages ORDER BY at_ DESC, id DESC LIMIT ${n}`
      }),

    hold: (where) =>
      q(
        (p) => `UPDATE ${s}.queue q SET status = 'held', due_at = NULL, waiting_upstream = false,
            updated_at = now()
          FROM ${s}.messages m
          WHERE m.id = q.id AND q.status IN ('queued', 'deferred') AND ${where(p)}
          RETURNING q.id`,
      ),
    unhold: (where) =>
      q(
        (p) => `UPDATE ${s}.queue q
          SET status = CASE WHEN q.attempts = 0 THEN 'queued' ELSE 'deferred' END,
            due_at = now(), updated_at = now()
          FROM ${s}.messages m
          WHERE m.id = q.id AND q.status = 'held' AND ${where(p)}
          RETURNING q.id`,
      ),
    retryDeferred: (where) =>
      q(
        (p) => `UPDATE ${s}.queue q SET due_at = now(), waiting_upstream = false, updated_at = now()
          FROM ${s}.messages m
          WHERE m.id = q.id AND q.status = 'deferred' AND ${where(p)}
          RETURNING q.id`,
      ),
    requeueFailed: ({ where, maxAgeMs }) => [
      q(
        (p) => `
        WITH f AS (
          UPDATE ${s}.queue q SET status = 'queued', due_at = now(),
            expires_at = now() + ${ms(p(maxAgeMs))}, backoff_step = 0, waiting_upstream = false,
            reason = NULL, finished_at = NULL, updated_at = now()
          FROM ${s}.messages m
          WHERE m.id = q.id AND q.status = 'failed' AND ${where(p)}
          RETURNING q.id
        ), r AS (
          UPDATE ${s}.recipients SET status = 'pending', updated_at = now()
          FROM f WHERE recipients.message_id = f.id AND recipients.status = 'failed'
        )
        SELECT id FROM f`,
      ),
    ],
    remove: (where) =>
      q(
        (p) => `DELETE FROM ${s}.messages m USING ${s}.queue q
          WHERE q.id = m.id AND ${where(p)} RETURNING m.id`,
      ),

    purgeSlice: ({ statuses, finishedBefore }) =>
      q((p) => {
        const before = p(finishedBefore)
        // Finished before implies created before: the (status, created_at) index bounds the scan.
        return `DELETE FROM ${s}.messages WHERE id IN (
            SELECT id FROM ${s}.queue
            WHERE status = ANY(${p([...statuses])}::text[]) AND created_at < ${before}
              AND finished_at < ${before}
            LIMIT 5000)
          RETURNING id`
      }),

    statusCounts: () =>
      q(
        () => `SELECT status, sum(n)::bigint AS n FROM ${s}.status_counts GROUP BY status`,
        'statusCounts',
      ),
    recentCounts: () =>
      q(() => {
        const minute = `floor(extract(epoch FROM now()) / 60)::bigint`
        const count = (status: string, minutes: number) => `(SELECT coalesce(sum(n), 0)
          FROM ${s}.finished_counts WHERE status = '${status}' AND minute > ${minute} - ${minutes})`
        const oldest = ['queued', 'deferred', 'sending'].map(
          (status) => `(SELECT min(created_at) FROM ${s}.queue WHERE status = '${status}')`,
        )
        return `SELECT least(${oldest.join(', ')}) AS oldest,
          ${count('sent', 60)} AS sent_hour, ${count('sent', 1440)} AS sent_day,
          ${count('failed', 60)} AS failed_hour, ${count('failed', 1440)} AS failed_day`
      }, 'recentCounts'),
    pruneRecentCounts: () =>
      q(
        () => `DELETE FROM ${s}.finished_counts
          WHERE minute <= floor(extract(epoch FROM now()) / 60)::bigint - 1440 RETURNING 1`,
      ),
    upstreamProblem: () =>
      q(
        () => `SELECT started_at AS t, outcome, error FROM ${s}.attempts
          WHERE outcome IN ('upstream-down', 'misconfigured') AND started_at > coalesce(
            (SELECT max(started_at) FROM ${s}.attempts WHERE outcome IN ('sent', 'captured', 'partial')),
            '-infinity')
          ORDER BY started_at DESC LIMIT 1`,
      ),
    activityBuckets: ({ since, bucketMs }) =>
      q((p) => {
        const width = p(bucketMs)
        return `SELECT (floor(${msSince('started_at')} / ${width}) * ${width})::float8 AS bucket,
            outcome, count(*)::int AS n
          FROM ${s}.attempts WHERE started_at >= ${p(since)} GROUP BY 1, 2`
      }),
    lastSuccess: () =>
      q(
        () => `SELECT started_at AS t FROM ${s}.attempts
          WHERE outcome IN ('sent', 'captured', 'partial') ORDER BY started_at DESC LIMIT 1`,
      ),
    lastError: () =>
      q(
        () => `SELECT started_at AS t, error FROM ${s}.attempts WHERE error IS NOT NULL
          ORDER BY started_at DESC LIMIT 1`,
      ),
  }
}
