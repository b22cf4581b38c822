import type { EventSql } from '../sql/event-dialect.js'
import { queryBuilder, type Param } from '../sql/query.js'

/** The event log and consumer statements of the SQLite store (see sql/events.ts). */

const q = queryBuilder('?')
const now = () => Date.now()
const json = (value: unknown) => JSON.stringify(value)
const EVENT = `seq, type, at, message_id, recipient, data`
/** Events deleted per retention statement. */
const PURGE_SLICE = 5000

const typeFilter = (p: Param, types: readonly string[] | null) =>
  types ? ` AND type IN (SELECT value FROM json_each(${p(json(types))}))` : ''

export const sqliteEvents: EventSql = {
  eventHead: () => q(() => `SELECT max(seq) AS seq FROM events`, 'eventHead'),

  readEvents: ({ after, upTo, types, limit }) =>
    q(
      (p) => `SELECT ${EVENT} FROM events
        WHERE seq > ${p(after ?? 0)} AND seq <= ${p(upTo)}${typeFilter(p, types)}
        ORDER BY seq LIMIT ${p(limit)}`,
    ),

  countEvents: ({ after, types }) =>
    q(
      (p) => `SELECT count(*) AS n FROM events WHERE seq > ${p(after ?? 0)}${typeFilter(p, types)}`,
    ),

  eventBefore: (at) => q((p) => `SELECT max(seq) AS seq FROM events WHERE at < ${p(at.getTime())}`),

  logDeleted: (ids) =>
    q(
      (p) => `INSERT INTO events (type, at, message_id, recipient, data)
        SELECT 'deleted', ${p(now())}, value, NULL, '{}' FROM json_each(${p(json(ids))})`,
    ),

  deleteEventsOf: (ids) =>
    q(
      (p) =>
        `DELETE FROM events WHERE message_id IN (SELECT value FROM json_each(${p(json(ids))}))`,
    ),

  // In position order: times follow positions, so the oldest are the first rows.
  purgeEventsSlice: (before) =>
    q(
      (p) => `DELETE FROM events WHERE seq IN (
          SELECT seq FROM events WHERE at < ${p(before.getTime())} ORDER BY seq LIMIT ${PURGE_SLICE})
        RETURNING seq`,
    ),

  leaseConsumer: ({ name, owner, leaseMs }) => [
    q((p) => {
      const t = p(now())
      return `INSERT INTO event_consumers (name, lease_owner, lease_expires_at, updated_at)
        VALUES (${p(name)}, ${p(owner)}, ${t} + ${p(leaseMs)}, ${t})
        ON CONFLICT (name) DO UPDATE SET lease_owner = excluded.lease_owner,
          lease_expires_at = excluded.lease_expires_at
        WHERE event_consumers.lease_owner IS NULL OR event_consumers.lease_owner = excluded.lease_owner
          OR event_consumers.lease_expires_at <= ${t}
        RETURNING name, cursor, state, lease_owner, lease_expires_at, retry_requests, updated_at`
    }),
  ],

  saveConsumer: ({ name, owner, cursor, state, leaseMs }) =>
    q((p) => {
      const t = p(now())
      return `UPDATE event_consumers SET cursor = ${p(cursor)}, state = ${p(state)},
          lease_owner = ${leaseMs > 0 ? p(owner) : 'NULL'},
          lease_expires_at = ${leaseMs > 0 ? `${t} + ${p(leaseMs)}` : 'NULL'}, updated_at = ${t}
        WHERE name = ${p(name)} AND lease_owner = ${p(owner)} AND lease_expires_at > ${t}
        RETURNING name`
    }),

  consumerRows: () =>
    q(
      () => `SELECT name, cursor, state, lease_owner, lease_expires_at, retry_requests, updated_at
        FROM event_consumers ORDER BY name`,
    ),

  requestConsumerRetry: (names) =>
    q(
      (p) => `UPDATE event_consumers SET retry_requests = retry_requests + 1
        ${names ? `WHERE name IN (SELECT value FROM json_each(${p(json(names))}))` : ''}
        RETURNING name`,
    ),
}
