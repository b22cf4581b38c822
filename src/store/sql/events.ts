import {
  EVENT_TYPES,
  type EventConsumer,
  type EventLogMethods,
  type EventType,
  type StoredEvent,
} from '../store.js'
import type { RowCodec } from './dialect.js'
import type { Row, SqlDriver } from './driver.js'
import type { EventSql } from './event-dialect.js'

/** Most events deleted by one retention pass (in slices). */
const MAX_PURGE_ROUNDS = 100_000

/** A position as the engine compares it; positions are decimal integers in SQL stores. */
function position(cursor: string | null): number | null {
  if (cursor === null) return null
  const n = Number(cursor)
  return Number.isSafeInteger(n) && n >= 0 ? n : null
}

/** A `types` filter as the dialect takes it: null for every type. */
function typeList(types: readonly EventType[] | undefined): readonly string[] | null {
  if (!types || types.length === 0) return null
  return types.filter((t) => EVENT_TYPES.includes(t))
}

/**
 * The event log and its consumers on a SQL store. The events are written by the database in
 * the transactions of the changes; this reads them in order and keeps each consumer's place.
 * `op` is the engine's wrapper of public operations.
 */
export function createEventLog(options: {
  driver: SqlDriver
  dialect: EventSql & { readonly codec: RowCodec }
  op: <T>(work: () => Promise<T>) => Promise<T>
}): EventLogMethods {
  const { driver, dialect, op } = options
  const { codec } = dialect

  const toEvent = (row: Row): StoredEvent => ({
    seq: String(row.seq),
    type: String(row.type) as EventType,
    at: new Date(codec.time(row.at) ?? 0),
    id: String(row.message_id),
    recipient: typeof row.recipient === 'string' ? row.recipient : null,
    data: codec.json<Record<string, unknown>>(row.data),
  })

  const toConsumer = (row: Row): EventConsumer => {
    const expires = codec.time(row.lease_expires_at)
    return {
      name: String(row.name),
      cursor: typeof row.cursor === 'string' ? row.cursor : null,
      state: row.state === null || row.state === undefined ? {} : codec.json(row.state),
      leaseOwner: typeof row.lease_owner === 'string' ? row.lease_owner : null,
      leaseExpiresAt: expires === null ? null : new Date(expires),
      retryRequests: Number(row.retry_requests ?? 0),
      updatedAt: new Date(codec.time(row.updated_at) ?? 0),
    }
  }

  /** Numbers what committed since the last read, where the dialect numbers at read time. */
  async function sequence(): Promise<void> {
    const statements = dialect.sequenceEvents?.()
    if (!statements || statements.length === 0) return
    await driver.transaction(async (tx) => {
      for (const statement of statements) await tx.query(statement)
    })
  }

  async function head(): Promise<number | null> {
    const row = (await driver.query(dialect.eventHead()))[0]
    return row && row.seq !== null && row.seq !== undefined ? Number(row.seq) : null
  }

  return {
    readEvents: ({ after, types, limit }) =>
      op(async () => {
        await sequence()
        // Up to the head as read now: every position at or below it has committed, so the
        // cursor never passes an event that a later read would find.
        const upTo = await head()
        const from = position(after)
        if (upTo === null || (from !== null && from >= upTo) || limit <= 0) {
          return { events: [], cursor: after }
        }
        const rows = await driver.query(
          dialect.readEvents({ after: from, upTo, types: typeList(types), limit }),
        )
        const events = rows.map(toEvent)
        const cursor = events.length === limit ? events.at(-1)!.seq : String(upTo)
        return { events, cursor }
      }),

    countEvents: ({ after, types }) =>
      op(async () => {
        await sequence()
        const row = (
          await driver.query(
            dialect.countEvents({ after: position(after), types: typeList(types) }),
          )
        )[0]
        return Number(row?.n ?? 0)
      }),

    eventPosition: (at) =>
      op(async () => {
        await sequence()
        if (at === 'end') {
          const end = await head()
          return end === null ? null : String(end)
        }
        const row = (await driver.query(dialect.eventBefore(at)))[0]
        if (
          row &&
          (typeof row.seq === 'number' ||
            typeof row.seq === 'string' ||
            typeof row.seq === 'bigint')
        ) {
          return String(row.seq)
        }
        // Nothing older: just before the first event, or null on an empty log.
        return (await head()) === null ? null : '0'
      }),

    purgeEvents: (before) =>
      op(async () => {
        let purged = 0
        for (let round = 0; round < MAX_PURGE_ROUNDS; round++) {
          const deleted = (await driver.write(dialect.purgeEventsSlice(before))).length
          purged += deleted
          if (deleted === 0) break
        }
        return purged
      }),

    leaseConsumer: (request) =>
      op(async () => {
        const statements = dialect.leaseConsumer(request)
        const rows = await driver.transaction(async (tx) => {
          let last: Row[] = []
          for (const statement of statements) last = await tx.query(statement)
          return last
        })
        return rows[0] ? toConsumer(rows[0]) : null
      }),

    saveConsumer: ({ name, owner, cursor, state, leaseMs }) =>
      op(async () => {
        const rows = await driver.write(
          dialect.saveConsumer({ name, owner, cursor, state: JSON.stringify(state), leaseMs }),
        )
        return rows.length > 0
      }),

    consumers: () => op(async () => (await driver.query(dialect.consumerRows())).map(toConsumer)),

    requestConsumerRetry: (names) =>
      op(async () => (await driver.write(dialect.requestConsumerRetry(names))).length),
  }
}
