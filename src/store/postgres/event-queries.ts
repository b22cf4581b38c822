import type { EventSql } from '../sql/event-dialect.js'
import { queryBuilder, type Param } from '../sql/query.js'

/**
 * The event log and consumer statements of the PostgreSQL store, for one schema (see
 * sql/events.ts and migration 0007). Events are numbered by readers, once committed.
 */

const q = queryBuilder('$')
const ms = (value: string) => `(${value}::double precision * interval '1 millisecond')`
const EVENT = `seq, type, at, message_id, recipient, data`
const CONSUMER = `name, cursor, state, lease_owner, lease_expires_at, retry_requests, updated_at`
/** Events numbered, and deleted, per statement. */
const SLICE = 5000

const typeFilter = (p: Param, types: readonly string[] | null) =>
  types ? ` AND type = ANY(${p([...types])}::text[])` : ''

export function postgresEvents(s: string): EventSql {
  return {
    // The lock first, in a statement of its own: the numbering statement's snapshot is then
    // taken after the previous numbering committed, so it continues from its last position.
    sequenceEvents: () => [
      q((p) => `SELECT pg_advisory_xact_lock(hashtext(${p(`outbox events ${s}`)}))`, 'eventsLock'),
      q(
        () => `WITH u AS (
            SELECT id, row_number() OVER (ORDER BY id) AS n FROM ${s}.events
            WHERE seq IS NULL ORDER BY id LIMIT ${SLICE}
          ), numbered AS (
            UPDATE ${s}.events e SET seq = b.last + u.n FROM u, ${s}.event_positions b
            WHERE e.id = u.id RETURNING 1
          )
          UPDATE ${s}.event_positions SET last = last + (SELECT count(*) FROM numbered)
          WHERE EXISTS (SELECT 1 FROM numbered)`,
        'eventsNumber',
      ),
    ],

    eventHead: () => q(() => `SELECT max(seq) AS seq FROM ${s}.events`, 'eventHead'),

    readEvents: ({ after, upTo, types, limit }) =>
      q(
        (p) => `SELECT ${EVENT} FROM ${s}.events
          WHERE seq > ${p(after ?? 0)} AND seq <= ${p(upTo)}${typeFilter(p, types)}
          ORDER BY seq LIMIT ${p(limit)}`,
      ),

    countEvents: ({ after, types }) =>
      q(
        (p) =>
          `SELECT count(*) AS n FROM ${s}.events WHERE seq > ${p(after ?? 0)}${typeFilter(p, types)}`,
      ),

    // Back from the newest: times follow positions, so this reads about as far as `at`.
    eventBefore: (at) =>
      q(
        (p) => `SELECT seq FROM ${s}.events WHERE seq IS NOT NULL AND at < ${p(at)}
          ORDER BY seq DESC LIMIT 1`,
      ),

    logDeleted: (ids) =>
      q(
        (p) => `INSERT INTO ${s}.events (type, message_id)
          SELECT 'deleted', id FROM unnest(${p([...ids])}::text[]) AS d(id) ORDER BY id`,
      ),

    deleteEventsOf: (ids) =>
      q((p) => `DELETE FROM ${s}.events WHERE message_id = ANY(${p([...ids])}::text[])`),

    purgeEventsSlice: (before) =>
      q(
        (p) => `DELETE FROM ${s}.events WHERE id IN (
            SELECT id FROM ${s}.events WHERE at < ${p(before)} ORDER BY id LIMIT ${SLICE})
          RETURNING id`,
      ),

    leaseConsumer: ({ name, owner, leaseMs }) => [
      q(
        (p) => `INSERT INTO ${s}.event_consumers AS c (name, lease_owner, lease_expires_at)
          VALUES (${p(name)}, ${p(owner)}, now() + ${ms(p(leaseMs))})
          ON CONFLICT (name) DO UPDATE SET lease_owner = excluded.lease_owner,
            lease_expires_at = excluded.lease_expires_at
          WHERE c.lease_owner IS NULL OR c.lease_owner = excluded.lease_owner
            OR c.lease_expires_at <= now()
          RETURNING ${CONSUMER}`,
        'leaseConsumer',
      ),
    ],

    saveConsumer: ({ name, owner, cursor, state, leaseMs }) =>
      q(
        (p) => `UPDATE ${s}.event_consumers SET cursor = ${p(cursor)}, state = ${p(state)}::jsonb,
            lease_owner = CASE WHEN ${p(leaseMs)}::float8 > 0 THEN lease_owner END,
            lease_expires_at = CASE WHEN ${p(leaseMs)}::float8 > 0
              THEN now() + ${ms(p(leaseMs))} END,
            updated_at = now()
          WHERE name = ${p(name)} AND lease_owner = ${p(owner)} AND lease_expires_at > now()
          RETURNING name`,
        'saveConsumer',
      ),

    consumerRows: () => q(() => `SELECT ${CONSUMER} FROM ${s}.event_consumers ORDER BY name`),

    requestConsumerRetry: (names) =>
      q(
        (p) => `UPDATE ${s}.event_consumers SET retry_requests = retry_requests + 1
          ${names ? `WHERE name = ANY(${p([...names])}::text[])` : ''} RETURNING name`,
      ),
  }
}
