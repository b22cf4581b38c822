import type { FilterSql, RowCodec, SqlDialect } from '../sql/dialect.js'
import type { Query } from '../sql/driver.js'
import { escapeLike } from '../sql/filter.js'
import { queryBuilder, type Condition } from '../sql/query.js'
import { claimQueries } from './claim-queries.js'
import { completeQueries } from './complete-queries.js'
import { insertMessages } from './insert-messages.js'
import { mariadbTables } from './tables.js'
import { mariadbShaping } from './shaping-queries.js'
import { mariadbSuppressions } from './suppression-queries.js'
import { mariadbEvents } from './event-queries.js'
import { mariadbTemplates } from './template-queries.js'
import { mariadbSubmissions } from './submission-queries.js'
import {
  NOW,
  inList,
  json,
  int,
  jsonRows,
  lockedChange,
  recheckedChange,
  statusList,
} from './sql-parts.js'

/**
 * Every statement of the MariaDB/MySQL store, for one table prefix. One table holds a message's
 * queue state (as in SQLite: foreign-key cascades fire no triggers here, and the counts are
 * kept by triggers), the bytes, recipients, attempts and tags live apart. Times are
 * milliseconds by the database's clock ({@link NOW}). Lists travel as JSON (`JSON_TABLE`).
 * A change whose rows the engine needs back is a {@link lockedChange}: no `UPDATE … RETURNING`
 * here. Schema changes go in migrations/.
 */

const q = queryBuilder('?')
const CLAIMABLE_RANKS = [0, 1, 2, 3]

const text = (v: unknown): string => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v))
const codec: RowCodec = {
  time: (v) => (v === null || v === undefined ? null : Number(v)),
  json: <T>(v: unknown) => JSON.parse(text(v)) as T,
  list: (v) => (Array.isArray(v) ? (v as string[]) : (JSON.parse(text(v)) as string[])),
  flag: (v) => v === 1 || v === true || v === '1',
}

/** The dialect and the wake-up poll's statement, for tables named `<prefix>messages` and so on. */
export function createMariadbDialect(prefix: string): SqlDialect & { workMark(): Query } {
  const t = mariadbTables(prefix)
  const { M, R, A, byIds, lockWhere, updateIds, deleteIds, leasedBy } = t
  const { claim, claimedRows } = claimQueries(t)
  const SUMMARY = `m.id, m.message_id, m.status, m.priority, m.mail_from, m.recipients, m.subject,
    m.tags, m.size, m.idempotency_key, m.created_at, m.due_at, m.expires_at, m.attempts, m.reason,
    m.last_error, m.captured, m.lease_owner, m.lease_expires_at, m.finished_at, m.upstream`

  const filter: FilterSql = {
    all: '1 = 1',
    status: (_p, statuses) => `m.status IN (${statusList(statuses)})`,
    from: (p, address) => `m.mail_from_lower = LOWER(${p(address)})`,
    toAddress: (p, address) =>
      `m.id IN (SELECT message_id FROM ${R} WHERE address_lower = LOWER(${p(address)}))`,
    toDomain: (p, domain) =>
      `m.id IN (SELECT message_id FROM ${R} WHERE address_lower LIKE ${p(`%${escapeLike(domain.toLowerCase())}`)})`,
    tag: (p, tag) => `m.id IN (SELECT message_id FROM ${prefix}message_tags WHERE tag = ${p(tag)})`,
    since: (p, date) => `m.created_at >= ${p(date.getTime())}`,
    before: (p, date) => `m.created_at < ${p(date.getTime())}`,
    subject: (p, s) => `LOWER(m.subject) LIKE ${p(`%${escapeLike(s.toLowerCase())}%`)}`,
    ids: (p, ids) => `m.id IN ${inList(p, ids)}`,
  }

  return {
    kind: 'mariadb',
    codec,
    filter,
    ...mariadbShaping(prefix),
    ...mariadbEvents(prefix),
    ...mariadbSuppressions(prefix),
    ...mariadbTemplates(prefix),
    submissions: mariadbSubmissions(prefix),

    insertMessages: (messages) => insertMessages(prefix, messages),

    findByIdempotencyKeys: (keys) =>
      q(
        (p) => `SELECT id, message_id, idempotency_key FROM ${M}
          WHERE idempotency_key IN ${inList(p, keys)}`,
      ),

    // No NOTIFY: other processes' workers poll (see commit-poller.ts).
    notify: () => [],

    claim,
    claimWithRows: claim,
    claimedRows,

    leaseOwners: () =>
      q(
        () => `SELECT DISTINCT lease_owner AS owner FROM ${M} WHERE status = 'sending'`,
        'leaseOwners',
      ),

    expireLeasesOf: (owners) =>
      lockWhere(
        (p) => `m.status = 'sending' AND m.lease_owner IN ${inList(p, owners)}`,
        (ids) => [updateIds(ids, () => `lease_expires_at = ${NOW}`)],
      ),

    renewLeases: ({ owner, ids, leaseMs }) =>
      lockedChange(leasedBy(owner, ids, 'renewLock'), (locked) => ({
        changes: [
          updateIds(locked, (p) => `lease_expires_at = ${NOW} + ${p(leaseMs)}`, 'renewLeases'),
        ],
      })),

    releaseLeases: ({ owner, ids, delaysMs }) =>
      lockedChange(leasedBy(owner, ids, 'releaseLock'), (locked) => {
        if (!delaysMs) {
          return {
            changes: [
              updateIds(
                locked,
                `status = CASE WHEN attempts = 0 THEN 'queued' ELSE 'deferred' END,
                  due_at = ${NOW}, lease_owner = NULL, lease_expires_at = NULL, updated_at = ${NOW}`,
                'releaseLeases',
              ),
            ],
          }
        }
        // Each locked id with its delay.
        const held = new Set(locked)
        const pairs = ids.flatMap((id, i) => (held.has(id) ? [[id, delaysMs[i] ?? 0]] : []))
        return {
          changes: [
            q(
              (p) => `UPDATE JSON_TABLE(${p(json(pairs))}, '$[*]' COLUMNS (
                  id VARCHAR(64) PATH '$[0]', delay BIGINT PATH '$[1]')) j
                STRAIGHT_JOIN ${M} m FORCE INDEX (PRIMARY) ON m.id = j.id
                SET m.status = CASE WHEN m.attempts = 0 THEN 'queued' ELSE 'deferred' END,
                  m.due_at = ${NOW} + j.delay, m.lease_owner = NULL, m.lease_expires_at = NULL,
                  m.updated_at = ${NOW}`,
              'releaseLeasesLater',
            ),
          ],
        }
      }),

    complete: completeQueries(t),

    wakeUpstreamWaiters: () =>
      lockWhere(
        () => `m.status = 'deferred' AND m.waiting_upstream = 1`,
        (ids) => [updateIds(ids, `due_at = ${NOW}, waiting_upstream = 0, updated_at = ${NOW}`)],
      ),

    expireOverdue: () => [
      recheckedChange(
        q(
          () => `SELECT id FROM ${M} WHERE status = 'deferred' AND expires_at <= ${NOW}
            ORDER BY expires_at, id LIMIT 1000 FOR UPDATE SKIP LOCKED`,
        ),
        (ids) =>
          q(
            (p) => `SELECT m.id FROM ${byIds(p, ids)}
              WHERE m.status = 'deferred' AND m.expires_at <= ${NOW} ORDER BY m.id FOR UPDATE`,
          ),
        (ids) => ({
          changes: [
            q(
              (p) => `UPDATE ${jsonRows(p, ids)} j
                STRAIGHT_JOIN ${R} r FORCE INDEX (PRIMARY) ON r.message_id = j.v
                SET r.status = 'failed',
                  r.reply = 'expired: not delivered before the maximum age', r.updated_at = ${NOW}
                WHERE r.status = 'pending'`,
            ),
            updateIds(
              ids,
              `status = 'failed', reason = 'expired', due_at = NULL, waiting_upstream = 0,
                updated_at = ${NOW}, finished_at = ${NOW}`,
            ),
          ],
        }),
      ),
    ],

    msUntilNextDue: () =>
      q(() => {
        // The smallest due time is the smallest of each priority's: four index seeks.
        const due = CLAIMABLE_RANKS.map(
          (rank) => `SELECT MIN(due_at) AS t FROM ${M} WHERE claim_rank = ${rank}`,
        )
        return `SELECT MIN(t) - ${NOW} AS ms FROM (${due.join(' UNION ALL ')}
          UNION ALL SELECT MIN(lease_expires_at) FROM ${M} WHERE status = 'sending') x`
      }, 'msUntilNextDue'),

    workMark: () =>
      q(() => {
        const due = CLAIMABLE_RANKS.map(
          (rank) => `EXISTS (SELECT 1 FROM ${M} WHERE claim_rank = ${rank} AND due_at <= ${NOW})`,
        )
        // submitted: the newest submission of CALL <prefix>enqueue() (AUTO_INCREMENT grows).
        return `SELECT (SELECT MAX(created_at) FROM ${M}) AS newest,
          (${due.join(' OR ')} OR EXISTS (SELECT 1 FROM ${M}
            WHERE status = 'sending' AND lease_expires_at <= ${NOW})) AS due,
          (SELECT MAX(seq) FROM ${prefix}submissions) AS submitted`
      }, 'workMark'),

    messageRow: (id) => q((p) => `SELECT ${SUMMARY}, m.template FROM ${M} m WHERE m.id = ${p(id)}`),
    recipientRows: (id) =>
      q(
        (p) => `SELECT address, coalesce(feedback, status) AS status, code, reply FROM ${R}
          WHERE message_id = ${p(id)} ORDER BY position`,
      ),
    attemptRows: (id) =>
      q(
        (p) => `SELECT worker, started_at, duration_ms, outcome, error, recipients, upstream
          FROM ${A} WHERE message_id = ${p(id)} ORDER BY id`,
      ),
    raw: (id) => q((p) => `SELECT raw FROM ${prefix}message_bodies WHERE id = ${p(id)}`),

    listPage: ({ where, after, limit }) =>
      q((p) => {
        const cursor = after
          ? ` AND (m.created_at < ${p(after.createdAt)} OR (m.created_at = ${p(after.createdAt)} AND m.id < ${p(after.id)}))`
          : ''
        return `SELECT ${SUMMARY} FROM ${M} m WHERE ${where(p)}${cursor}
          ORDER BY m.created_at DESC, m.id DESC LIMIT ${int(limit)}`
      }),

    hold: (where: Condition) =>
      lockWhere(
        (p) => `m.status IN ('queued', 'deferred') AND ${where(p)}`,
        (ids) => [
          updateIds(
            ids,
            `status = 'held', due_at = NULL, waiting_upstream = 0, updated_at = ${NOW}`,
          ),
        ],
      ),
    unhold: (where) =>
      lockWhere(
        (p) => `m.status = 'held' AND ${where(p)}`,
        (ids) => [
          updateIds(
            ids,
            `status = CASE WHEN attempts = 0 THEN 'queued' ELSE 'deferred' END,
              due_at = ${NOW}, updated_at = ${NOW}`,
          ),
        ],
      ),
    retryDeferred: (where) =>
      lockWhere(
        (p) => `m.status = 'deferred' AND ${where(p)}`,
        (ids) => [updateIds(ids, `due_at = ${NOW}, waiting_upstream = 0, updated_at = ${NOW}`)],
      ),
    requeueFailed: ({ where, maxAgeMs }) => [
      lockWhere(
        (p) => `m.status = 'failed' AND ${where(p)}`,
        (ids) => [
          q(
            (p) => `UPDATE ${jsonRows(p, ids)} j
                STRAIGHT_JOIN ${R} r FORCE INDEX (PRIMARY) ON r.message_id = j.v
              SET r.status = 'pending', r.updated_at = ${NOW} WHERE r.status = 'failed'`,
          ),
          updateIds(
            ids,
            (
              p,
            ) => `status = 'queued', due_at = ${NOW}, expires_at = ${NOW} + ${p(Math.round(maxAgeMs))},
              backoff_step = 0, waiting_upstream = 0, reason = NULL, finished_at = NULL,
              updated_at = ${NOW}`,
          ),
        ],
      ),
    ],
    remove: (where) => lockWhere(where, (ids) => [deleteIds(ids)]),

    purgeSlice: ({ statuses, finishedBefore }) =>
      recheckedChange(
        q((p) => {
          const before = p(finishedBefore.getTime())
          // Finished before implies created before: the (status, created_at) index bounds the scan.
          return `SELECT id FROM ${M} WHERE status IN (${statusList(statuses)})
            AND created_at < ${before} AND finished_at < ${before}
            LIMIT 5000 FOR UPDATE SKIP LOCKED`
        }),
        (ids) =>
          q(
            (p) => `SELECT m.id FROM ${byIds(p, ids)}
              WHERE m.status IN (${statusList(statuses)})
                AND m.finished_at < ${p(finishedBefore.getTime())}
              ORDER BY m.id FOR UPDATE`,
          ),
        (ids) => ({ changes: [deleteIds(ids)] }),
      ),

    statusCounts: () =>
      q(
        () => `SELECT status, SUM(n) AS n FROM ${prefix}status_counts GROUP BY status`,
        'statusCounts',
      ),
    recentCounts: () =>
      q(() => {
        const minute = `(${NOW} DIV 60000)`
        const count = (status: string, minutes: number) => `(SELECT COALESCE(SUM(n), 0)
          FROM ${prefix}finished_counts WHERE status = '${status}' AND minute > ${minute} - ${minutes})`
        const oldest = ['queued', 'deferred', 'sending'].map(
          (status) => `SELECT MIN(created_at) AS t FROM ${M} WHERE status = '${status}'`,
        )
        return `SELECT (SELECT MIN(t) FROM (${oldest.join(' UNION ALL ')}) o) AS oldest,
          ${count('sent', 60)} AS sent_hour, ${count('sent', 1440)} AS sent_day,
          ${count('failed', 60)} AS failed_hour, ${count('failed', 1440)} AS failed_day`
      }, 'recentCounts'),
    pruneRecentCounts: () =>
      q(() => `DELETE FROM ${prefix}finished_counts WHERE minute <= (${NOW} DIV 60000) - 1440`),
    upstreamProblem: () =>
      q(
        () => `SELECT started_at AS t, outcome, error FROM ${A}
          WHERE outcome IN ('upstream-down', 'misconfigured') AND started_at > COALESCE(
            (SELECT MAX(started_at) FROM ${A} WHERE outcome IN ('sent', 'captured', 'partial')), -1)
          ORDER BY started_at DESC LIMIT 1`,
      ),
    activityBuckets: ({ since, bucketMs }) =>
      q((p) => {
        const width = int(Math.max(1, Math.round(bucketMs)))
        return `SELECT (started_at DIV ${width}) * ${width} AS bucket, outcome, COUNT(*) AS n
          FROM ${A} WHERE started_at >= ${p(since.getTime())} GROUP BY bucket, outcome`
      }),
    lastSuccess: () =>
      q(
        () => `SELECT started_at AS t FROM ${A} WHERE outcome IN ('sent', 'captured', 'partial')
          ORDER BY started_at DESC LIMIT 1`,
      ),
    lastError: () =>
      q(
        () => `SELECT started_at AS t, error FROM ${A} WHERE error IS NOT NULL
          ORDER BY started_at DESC LIMIT 1`,
      ),
  }
}
