import type { EventSql } from '../sql/event-dialect.js'
import { queryBuilder, type Param } from '../sql/query.js'
import { NOW, int, json, jsonRows, lockedChange } from './sql-parts.js'

/**
 * The event log and consumer statements of the MariaDB/MySQL store, for one table prefix (see
 * sql/events.ts and migration 0004). Events are numbered by readers, once committed. Without
 * `RETURNING`, changes whose rows the engine needs are locked changes.
 */

const q = queryBuilder('?')
const EVENT = `seq, type, at, message_id, recipient, data`
/** Events numbered, and deleted, per statement. */
const SLICE = 5000

export function mariadbEvents(prefix: string): EventSql {
  const E = `${prefix}events`
  const P = `${prefix}event_positions`
  const C = `${prefix}event_consumers`
  const CONSUMER = `name, cursor_at AS \`cursor\`, state, lease_owner, lease_expires_at,
    retry_requests, updated_at`
  const typeFilter = (p: Param, types: readonly string[] | null) =>
    types ? ` AND type IN (SELECT v FROM ${jsonRows(p, types, 'VARCHAR(16)')} j)` : ''

  return {
    sequenceEvents: () => [
      // The positions row's lock serialises the numbering; every connection reads committed
      // data, so the next read sees what the previous numbering committed.
      q(() => `SELECT last FROM ${P} WHERE one = 1 FOR UPDATE`, 'eventsLock'),
      // A plain (not locking) read of the committed unnumbered events: a locking one would wait
      // for transactions still writing theirs.
      lockedChange(
        q(() => `SELECT id FROM ${E} WHERE seq IS NULL ORDER BY id LIMIT ${int(SLICE)}`),
        (ids) => ({
          changes: [
            q(
              (p) => `UPDATE ${E} e
                JOIN JSON_TABLE(${p(json(ids.map(Number)))}, '$[*]' COLUMNS (n FOR ORDINALITY, v BIGINT PATH '$')) j
                  ON e.id = j.v
                JOIN ${P} b ON b.one = 1
                SET e.seq = b.last + j.n`,
            ),
            q((p) => `UPDATE ${P} SET last = last + ${p(ids.length)} WHERE one = 1`),
          ],
        }),
      ),
    ],

    eventHead: () => q(() => `SELECT max(seq) AS seq FROM ${E}`, 'eventHead'),

    readEvents: ({ after, upTo, types, limit }) =>
      q(
        (p) => `SELECT ${EVENT} FROM ${E}
          WHERE seq > ${p(after ?? 0)} AND seq <= ${p(upTo)}${typeFilter(p, types)}
          ORDER BY seq LIMIT ${int(limit)}`,
      ),

    countEvents: ({ after, types }) =>
      q(
        (p) => `SELECT count(*) AS n FROM ${E} WHERE seq > ${p(after ?? 0)}${typeFilter(p, types)}`,
      ),

    // Back from the newest: times follow positions, so this reads about as far as `at`.
    eventBefore: (at) =>
      q(
        (p) => `SELECT seq FROM ${E} WHERE seq IS NOT NULL AND at < ${p(at.getTime())}
          ORDER BY seq DESC LIMIT 1`,
      ),

    logDeleted: (ids) =>
      q(
        (p) => `INSERT INTO ${E} (type, at, message_id, recipient, data)
          SELECT 'deleted', ${NOW}, j.v, NULL, '{}' FROM ${jsonRows(p, ids)} j`,
      ),

    deleteEventsOf: (ids) =>
      q((p) => `DELETE e FROM ${E} e JOIN ${jsonRows(p, ids)} j ON e.message_id = j.v`),

    purgeEventsSlice: (before) =>
      lockedChange(
        q(
          (p) => `SELECT id FROM ${E} WHERE at < ${p(before.getTime())}
            ORDER BY id LIMIT ${int(SLICE)} FOR UPDATE`,
        ),
        (ids) => ({
          changes: [
            q((p) => `DELETE e FROM ${E} e JOIN ${jsonRows(p, ids, 'BIGINT')} j ON e.id = j.v`),
          ],
        }),
      ),

    leaseConsumer: ({ name, owner, leaseMs }) => [
      q(
        (p) => `INSERT IGNORE INTO ${C} (name, state, updated_at)
          VALUES (${p(name)}, '{}', ${NOW})`,
      ),
      lockedChange(
        q(
          (p) => `SELECT name AS id FROM ${C} WHERE name = ${p(name)}
            AND (lease_owner IS NULL OR lease_owner = ${p(owner)} OR lease_expires_at <= ${NOW})
            FOR UPDATE`,
        ),
        () => ({
          changes: [
            q(
              (p) => `UPDATE ${C} SET lease_owner = ${p(owner)},
                lease_expires_at = ${NOW} + ${p(Math.round(leaseMs))} WHERE name = ${p(name)}`,
            ),
          ],
          result: q((p) => `SELECT ${CONSUMER} FROM ${C} WHERE name = ${p(name)}`),
        }),
      ),
    ],

    saveConsumer: ({ name, owner, cursor, state, leaseMs }) =>
      lockedChange(
        q(
          (p) => `SELECT name AS id FROM ${C} WHERE name = ${p(name)}
            AND lease_owner = ${p(owner)} AND lease_expires_at > ${NOW} FOR UPDATE`,
        ),
        () => ({
          changes: [
            q(
              (p) => `UPDATE ${C} SET cursor_at = ${p(cursor)}, state = ${p(state)},
                lease_owner = ${leaseMs > 0 ? p(owner) : 'NULL'},
                lease_expires_at = ${leaseMs > 0 ? `${NOW} + ${p(Math.round(leaseMs))}` : 'NULL'},
                updated_at = ${NOW}
                WHERE name = ${p(name)}`,
            ),
          ],
        }),
      ),

    consumerRows: () => q(() => `SELECT ${CONSUMER} FROM ${C} ORDER BY name`),

    requestConsumerRetry: (names) =>
      lockedChange(
        q(
          (p) => `SELECT name AS id FROM ${C}
            ${names ? `WHERE name IN (SELECT v FROM ${jsonRows(p, names, 'VARCHAR(255)')} j)` : ''}
            FOR UPDATE`,
        ),
        (ids) => ({
          changes: [
            q(
              (p) => `UPDATE ${C} c JOIN ${jsonRows(p, ids, 'VARCHAR(255)')} j ON c.name = j.v
                SET c.retry_requests = c.retry_requests + 1`,
            ),
          ],
        }),
      ),
  }
}
