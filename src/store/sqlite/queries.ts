import { priorityRank } from '../priority-rank.js'
import type { NewMessage } from '../store.js'
import type { FilterSql, RowCodec, SqlDialect } from '../sql/dialect.js'
import type { Query } from '../sql/driver.js'
import { escapeLike } from '../sql/filter.js'
import { queryBuilder, type Param } from '../sql/query.js'
import { sqliteShaping } from './shaping-queries.js'
import { sqliteSuppressions } from './suppression-queries.js'
import { sqliteEvents } from './event-queries.js'
import { sqliteTemplates } from './template-queries.js'
import { templateColumn } from '../sql/template-dialect.js'

/**
 * Every statement of the SQLite store. Times are milliseconds since the epoch, by this
 * process's clock (SQLite has no other); lists travel as JSON (`json_each`), flags as 0/1.
 * Schema changes go in migrations/.
 */

const q = queryBuilder('?')
/** The store's clock: read when a statement is built, which is just before it runs. */
const now = () => Date.now()
const json = (value: unknown) => JSON.stringify(value)
/** A flag as SQLite stores it; unknown (a caller that did not say) stays NULL. */
const flag = (value: boolean | undefined) => (value === undefined ? null : value ? 1 : 0)

const CLAIMABLE = `status IN ('queued', 'deferred')`
const SUMMARY = `m.id, m.message_id, m.status, m.priority, m.mail_from, m.recipients, m.subject,
  m.tags, m.size, m.idempotency_key, m.created_at, m.due_at, m.expires_at, m.attempts, m.reason,
  m.last_error, m.captured, m.lease_owner, m.lease_expires_at, m.finished_at, m.upstream`
/** Most messages in one insert: 20 values each, under SQLite's 32,766 per statement. */
const INSERT_CHUNK = 1000

const codec: RowCodec = {
  time: (v) => (v === null || v === undefined ? null : Number(v)),
  json: <T>(v: unknown) => JSON.parse(String(v)) as T,
  list: (v) => JSON.parse(String(v)) as string[],
  flag: (v) => v === 1 || v === true,
}

const filter: FilterSql = {
  all: '1 = 1',
  status: (p, statuses) => `m.status IN (SELECT value FROM json_each(${p(json(statuses))}))`,
  from: (p, address) => `m.mail_from = ${p(address)} COLLATE NOCASE`,
  toAddress: (p, address) =>
    `m.id IN (SELECT message_id FROM recipients WHERE address = ${p(address)} COLLATE NOCASE)`,
  toDomain: (p, domain) =>
    `m.id IN (SELECT message_id FROM recipients WHERE address LIKE ${p(`%${escapeLike(domain)}`)} ESCAPE '\\')`,
  tag: (p, tag) => `m.id IN (SELECT message_id FROM message_tags WHERE tag = ${p(tag)})`,
  since: (p, date) => `m.created_at >= ${p(date.getTime())}`,
  before: (p, date) => `m.created_at < ${p(date.getTime())}`,
  subject: (p, text) => `m.subject LIKE ${p(`%${escapeLike(text)}%`)} ESCAPE '\\'`,
  ids: (p, ids) => `m.id IN (SELECT value FROM json_each(${p(json(ids))}))`,
}

/** Whether the message of a batch with this id made it in (a taken idempotency key keeps one out). */
const stored = (id: string) => `EXISTS (SELECT 1 FROM messages WHERE id = ${id})`

/** Inserts up to INSERT_CHUNK messages with their bytes, recipients and tags. */
function insertChunk(messages: readonly NewMessage[]): Query[] {
  const t = now()
  const rows = (p: Param) =>
    messages
      .map((m) => {
        const dueAt = m.sendAt ? m.sendAt.getTime() : t
        const leased = m.leaseTo
        return `(${[
          p(m.id),
          p(m.messageId),
          `'${leased ? 'sending' : 'queued'}'`,
          p(priorityRank(m.priority)),
          p(m.envelope.from),
          p(json(m.envelope.to)),
          p(m.subject),
          p(json(m.tags)),
          p(m.raw.length),
          p(m.idempotencyKey),
          p(t),
          p(leased ? null : dueAt),
          p(Math.max(dueAt, t) + m.maxAgeMs),
          p(leased ? leased.owner : null),
          p(leased ? t + leased.leaseMs : null),
          p(flag(m.eightBit)),
          p(flag(m.smtpUtf8)),
          p(m.upstream ?? null),
          p(templateColumn(m.template)),
        ].join(', ')}, ${p(t)})`
      })
      .join(',\n')
  return [
    q(
      (p) => `
      INSERT INTO messages (id, message_id, status, priority, mail_from, recipients, subject, tags,
        size, idempotency_key, created_at, due_at, expires_at, lease_owner, lease_expires_at,
        eight_bit, smtputf8, upstream, template, updated_at)
      VALUES ${rows(p)}
      ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING`,
    ),
    q(
      (p) => `
      INSERT INTO message_bodies (id, raw)
      SELECT column1, column2 FROM (VALUES ${messages.map((m) => `(${p(m.id)}, ${p(m.raw)})`).join(', ')})
      WHERE ${stored('column1')}`,
    ),
    q(
      (p) => `
      INSERT INTO recipients (message_id, position, address, status, updated_at)
      SELECT m.value ->> '$[0]', r.key, r.value, 'pending', ${p(t)}
      FROM json_each(${p(json(messages.map((m) => [m.id, m.envelope.to])))}) m,
        json_each(m.value -> '$[1]') r
      WHERE ${stored("m.value ->> '$[0]'")}`,
    ),
    q(
      (p) => `
      INSERT OR IGNORE INTO message_tags (tag, message_id)
      SELECT g.value, m.value ->> '$[0]'
      FROM json_each(${p(json(messages.map((m) => [m.id, m.tags])))}) m,
        json_each(m.value -> '$[1]') g
      WHERE ${stored("m.value ->> '$[0]'")}`,
    ),
  ]
}

export const sqliteDialect: SqlDialect = {
  kind: 'sqlite',
  codec,
  filter,
  ...sqliteShaping,
  ...sqliteSuppressions,
  ...sqliteEvents,
  ...sqliteTemplates,

  insertMessages(messages) {
    const queries: Query[] = []
    for (let i = 0; i < messages.length; i += INSERT_CHUNK) {
      queries.push(...insertChunk(messages.slice(i, i + INSERT_CHUNK)))
    }
    // Which made it in, for every chunk at once.
    queries.push(
      q(
        (p) =>
          `SELECT id FROM messages WHERE id IN (SELECT value FROM json_each(${p(json(messages.map((m) => m.id)))}))`,
      ),
    )
    return queries
  },

  findByIdempotencyKeys: (keys) =>
    q(
      (p) => `SELECT id, message_id, idempotency_key FROM messages
        WHERE idempotency_key IN (SELECT value FROM json_each(${p(json(keys))}))`,
    ),

  notify: () => [],

  claim: ({ owner, limit, leaseMs }) =>
    q((p) => {
      const t = p(now())
      const n = p(limit)
      // One index range per arm (expired leases, then each priority), each limited, so that
      // messages of a higher priority scheduled for later are never scanned. SQLite runs the
      // arms of a UNION ALL in order and stops at the LIMIT: the first arms' messages are taken.
      const due = (rank: number) => `
        SELECT id FROM (SELECT id FROM messages
          WHERE ${CLAIMABLE} AND priority = ${rank} AND due_at <= ${t}
          ORDER BY due_at, id LIMIT ${n})`
      return `
        UPDATE messages SET status = 'sending', lease_owner = ${p(owner)},
          lease_expires_at = ${t} + ${p(leaseMs)}, updated_at = ${t}
        WHERE id IN (
          SELECT id FROM (SELECT id FROM messages
            WHERE status = 'sending' AND lease_expires_at <= ${t}
            ORDER BY priority, lease_expires_at LIMIT ${n})
          UNION ALL ${[0, 1, 2, 3].map(due).join(' UNION ALL ')}
          LIMIT ${n})
        RETURNING id`
    }, 'claim'),

  claimedRows: (ids) =>
    q((p) => {
      const t = p(now())
      return `
        SELECT m.id, m.message_id, m.mail_from, m.priority, m.attempts, m.backoff_step,
          m.eight_bit, m.smtputf8, m.tags, m.upstream, ${t} - m.created_at AS created_ago_ms, m.expires_at - ${t} AS expires_in_ms, b.raw,
          (SELECT json_group_array(address) FROM (SELECT address FROM recipients r
             WHERE r.message_id = m.id AND r.status = 'pending' ORDER BY position)) AS pending,
          (SELECT count(*) FROM recipients r WHERE r.message_id = m.id AND r.status = 'failed') AS failed
        FROM messages m LEFT JOIN message_bodies b ON b.id = m.id
        WHERE m.id IN (SELECT value FROM json_each(${p(json(ids))}))
        ORDER BY m.priority, m.due_at, m.id`
    }, 'claimedRows'),

  leaseOwners: () =>
    q(() => `SELECT DISTINCT lease_owner AS owner FROM messages WHERE status = 'sending'`),

  expireLeasesOf: (owners) =>
    q(
      (p) => `UPDATE messages SET lease_expires_at = ${p(now())}
        WHERE status = 'sending' AND lease_owner IN (SELECT value FROM json_each(${p(json(owners))}))
        RETURNING id`,
    ),

  renewLeases: ({ owner, ids, leaseMs }) =>
    q(
      (p) => `UPDATE messages SET lease_expires_at = ${p(now() + leaseMs)}
        WHERE id IN (SELECT value FROM json_each(${p(json(ids))}))
          AND status = 'sending' AND lease_owner = ${p(owner)}
        RETURNING id`,
      'renewLeases',
    ),

  releaseLeases: ({ owner, ids, delaysMs }) =>
    q((p) => {
      const t = p(now())
      const release = `SET status = CASE WHEN attempts = 0 THEN 'queued' ELSE 'deferred' END,
          lease_owner = NULL, lease_expires_at = NULL, updated_at = ${t}`
      if (!delaysMs) {
        return `UPDATE messages ${release}, due_at = ${t}
          WHERE id IN (SELECT value FROM json_each(${p(json(ids))}))
            AND status = 'sending' AND lease_owner = ${p(owner)}
          RETURNING id`
      }
      // Each id with its delay, as (id, delay) pairs.
      const pairs = json(ids.map((id, i) => [id, delaysMs[i] ?? 0]))
      return `UPDATE messages AS m ${release}, due_at = ${t} + d.delay
        FROM (SELECT value ->> '$[0]' AS leased, value ->> '$[1]' AS delay FROM json_each(${p(pairs)})) AS d
        WHERE m.id = d.leased AND m.status = 'sending' AND m.lease_owner = ${p(owner)}
        RETURNING id`
    }),

  // Per outcome, by primary key: SQLite has no round trips to save, and reading a batch from
  // JSON costs more than these few prepared statements. Recipients before the message: the
  // lease check reads the message as it was.
  complete(batch) {
    const t = now()
    return batch.flatMap((c) => [
      q(
        (p) => `INSERT INTO attempts (message_id, worker, started_at, duration_ms, outcome, error,
            recipients, upstream)
          SELECT ${p(c.id)}, ${p(c.worker)}, ${p(t - c.startedAgoMs)}, ${p(c.durationMs)},
            ${p(c.outcome)}, ${p(c.error)}, ${p(json(c.attemptRecipients))}, ${p(c.upstream)}
          WHERE EXISTS (SELECT 1 FROM messages WHERE id = ${p(c.id)})`,
        'completeAttempt',
      ),
      ...c.recipients.map((r) =>
        q(
          (p) => `UPDATE recipients SET status = ${p(r.status)}, code = ${p(r.code)},
              reply = ${p(r.reply)}, updated_at = ${p(t)}
            WHERE message_id = ${p(c.id)} AND address = ${p(r.address)} AND status = 'pending'
              AND EXISTS (SELECT 1 FROM messages
                WHERE id = ${p(c.id)} AND status = 'sending' AND lease_owner = ${p(c.owner)})`,
          'completeRecipient',
        ),
      ),
      q((p) => {
        const at = p(t)
        return `UPDATE messages SET status = ${p(c.status)},
            due_at = ${c.status === 'deferred' ? `${at} + ${p(c.delayMs)}` : 'NULL'},
            attempts = attempts + 1, backoff_step = backoff_step + ${p(c.backoffIncrement)},
            waiting_upstream = ${p(c.waitingUpstream ? 1 : 0)}, lease_owner = NULL,
            lease_expires_at = NULL, reason = ${p(c.reason)}, last_error = ${p(c.error)},
            captured = ${p(c.captured ? 1 : 0)}, updated_at = ${at},
            finished_at = ${c.status === 'deferred' ? 'NULL' : at}
          WHERE id = ${p(c.id)} AND status = 'sending' AND lease_owner = ${p(c.owner)}
          RETURNING id`
      }),
    ])
  },

  wakeUpstreamWaiters: () =>
    q((p) => {
      const t = p(now())
      return `UPDATE messages SET due_at = ${t}, waiting_upstream = 0, updated_at = ${t}
        WHERE status = 'deferred' AND waiting_upstream = 1 RETURNING id`
    }),

  expireOverdue() {
    const t = now()
    const overdue = (p: Param) => `SELECT id FROM messages
      WHERE status = 'deferred' AND expires_at <= ${p(t)} ORDER BY expires_at, id LIMIT 1000`
    return [
      q(
        (p) => `UPDATE recipients SET status = 'failed',
          reply = 'expired: not delivered before the maximum age', updated_at = ${p(t)}
        WHERE status = 'pending' AND message_id IN (${overdue(p)})`,
      ),
      q(
        (p) => `UPDATE messages SET status = 'failed', reason = 'expired', due_at = NULL,
          waiting_upstream = 0, updated_at = ${p(t)}, finished_at = ${p(t)}
        WHERE id IN (${overdue(p)}) RETURNING id`,
      ),
    ]
  },

  msUntilNextDue: () =>
    q((p) => {
      // The smallest due time is the smallest of each priority's: four index seeks.
      const due = [0, 1, 2, 3].map(
        (rank) => `(SELECT min(due_at) FROM messages WHERE ${CLAIMABLE} AND priority = ${rank})`,
      )
      return `SELECT min(t) - ${p(now())} AS ms FROM (
        SELECT ${due.join(' AS t UNION ALL SELECT ')} AS t
        UNION ALL SELECT (SELECT min(lease_expires_at) FROM messages WHERE status = 'sending'))`
    }, 'msUntilNextDue'),

  messageRow: (id) =>
    q((p) => `SELECT ${SUMMARY}, m.template FROM messages m WHERE m.id = ${p(id)}`),
  recipientRows: (id) =>
    q(
      (p) => `SELECT address, coalesce(feedback, status) AS status, code, reply FROM recipients
        WHERE message_id = ${p(id)} ORDER BY position`,
    ),
  attemptRows: (id) =>
    q(
      (p) => `SELECT worker, started_at, duration_ms, outcome, error, recipients, upstream
        FROM attempts WHERE message_id = ${p(id)} ORDER BY id`,
    ),
  raw: (id) => q((p) => `SELECT raw FROM message_bodies WHERE id = ${p(id)}`),

  listPage: ({ where, after, limit }) =>
    q((p) => {
      const cursor = after
        ? ` AND (m.created_at < ${p(after.createdAt)} OR (m.created_at = ${p(after.createdAt)} AND m.id < ${p(after.id)}))`
        : ''
      return `SELECT ${SUMMARY} FROM messages m WHERE ${where(p)}${cursor}
        ORDER BY m.created_at DESC, m.id DESC LIMIT ${p(limit)}`
    }),

  hold: (where) =>
    q((p) => {
      const t = p(now())
      return `UPDATE messages AS m SET status = 'held', due_at = NULL, waiting_upstream = 0,
          updated_at = ${t}
        WHERE m.status IN ('queued', 'deferred') AND ${where(p)} RETURNING id`
    }),
  unhold: (where) =>
    q((p) => {
      const t = p(now())
      return `UPDATE messages AS m
        SET status = CASE WHEN m.attempts = 0 THEN 'queued' ELSE 'deferred' END,
          due_at = ${t}, updated_at = ${t}
        WHERE m.status = 'held' AND ${where(p)} RETURNING id`
    }),
  retryDeferred: (where) =>
    q((p) => {
      const t = p(now())
      return `UPDATE messages AS m SET due_at = ${t}, waiting_upstream = 0, updated_at = ${t}
        WHERE m.status = 'deferred' AND ${where(p)} RETURNING id`
    }),
  requeueFailed({ where, maxAgeMs }) {
    const t = now()
    const failed = (p: Param) =>
      `SELECT m.id FROM messages m WHERE m.status = 'failed' AND ${where(p)}`
    return [
      q(
        (p) => `UPDATE recipients SET status = 'pending', updated_at = ${p(t)}
          WHERE status = 'failed' AND message_id IN (${failed(p)})`,
      ),
      q(
        (p) => `UPDATE messages SET status = 'queued', due_at = ${p(t)},
            expires_at = ${p(t + maxAgeMs)}, backoff_step = 0, waiting_upstream = 0,
            reason = NULL, finished_at = NULL, updated_at = ${p(t)}
          WHERE id IN (${failed(p)}) RETURNING id`,
      ),
    ]
  },
  remove: (where) => q((p) => `DELETE FROM messages AS m WHERE ${where(p)} RETURNING id`),

  purgeSlice: ({ statuses, finishedBefore }) =>
    q((p) => {
      const before = p(finishedBefore.getTime())
      // Finished before implies created before: the (status, created_at) index bounds the scan.
      return `DELETE FROM messages WHERE id IN (
          SELECT id FROM messages
          WHERE status IN (SELECT value FROM json_each(${p(json(statuses))}))
            AND created_at < ${before} AND finished_at < ${before}
          LIMIT 5000)
        RETURNING id`
    }),

  statusCounts: () => q(() => `SELECT status, n FROM status_counts`, 'statusCounts'),
  recentCounts: () =>
    q((p) => {
      const minute = Math.floor(now() / 60_000)
      const count = (status: string, minutes: number) => `(SELECT coalesce(sum(n), 0)
        FROM finished_counts WHERE status = '${status}' AND minute > ${p(minute - minutes)})`
      const oldest = ['queued', 'deferred', 'sending'].map(
        (status) => `(SELECT min(created_at) FROM messages WHERE status = '${status}')`,
      )
      return `SELECT (SELECT min(t) FROM (SELECT ${oldest.join(' AS t UNION ALL SELECT ')} AS t)) AS oldest,
          ${count('sent', 60)} AS sent_hour, ${count('sent', 1440)} AS sent_day,
          ${count('failed', 60)} AS failed_hour, ${count('failed', 1440)} AS failed_day`
    }),
  pruneRecentCounts: () =>
    q(
      (p) =>
        `DELETE FROM finished_counts WHERE minute <= ${p(Math.floor(now() / 60_000) - 1440)} RETURNING 1`,
    ),
  upstreamProblem: () =>
    q(
      () => `SELECT started_at AS t, outcome, error FROM attempts
        WHERE outcome IN ('upstream-down', 'misconfigured') AND started_at > coalesce(
          (SELECT max(started_at) FROM attempts WHERE outcome IN ('sent', 'captured', 'partial')), -1)
        ORDER BY started_at DESC LIMIT 1`,
    ),
  activityBuckets: ({ since, bucketMs }) =>
    q((p) => {
      const width = `CAST(${p(bucketMs)} AS INTEGER)`
      return `SELECT (started_at / ${width}) * ${width} AS bucket, outcome, count(*) AS n
        FROM attempts WHERE started_at >= ${p(since.getTime())} GROUP BY bucket, outcome`
    }),
  lastSuccess: () =>
    q(
      () => `SELECT started_at AS t FROM attempts WHERE outcome IN ('sent', 'captured', 'partial')
        ORDER BY started_at DESC LIMIT 1`,
    ),
  lastError: () =>
    q(
      () => `SELECT started_at AS t, error FROM attempts WHERE error IS NOT NULL
        ORDER BY started_at DESC LIMIT 1`,
    ),
}
