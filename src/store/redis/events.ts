import type { Redis } from 'ioredis'
import {
  comparePositions,
  EVENT_TYPES,
  type EventLogMethods,
  type EventType,
  type StoredEvent,
} from '../store.js'
import type { ShapingContext } from './shaping.js'

/** Most entries one `read-events`/`count-events` script looks at: a call is short for the server. */
const SCAN_BUDGET = 2000
/** Entries one approximate retention trim deletes at most. */
const TRIM_LIMIT = 10_000
/** A stream id, or its first part (an SQL store's position: read as `<n>-0`). */
const POSITION = /^\d+(-\d+)?$/

/** A stream entry as XRANGE returns it. */
type Entry = [id: string, fields: string[]]

/** An entry of the fields `append_event` (lib.lua) writes: t, id, at, r, d. */
function toEvent([seq, fields]: Entry): StoredEvent {
  const f: Record<string, string> = {}
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!
  return {
    seq,
    type: f.t as EventType,
    at: new Date(Number(f.at)),
    id: String(f.id),
    recipient: f.r ? f.r : null,
    data: JSON.parse(f.d ?? '{}') as Record<string, unknown>,
  }
}

/**
 * A `types` filter as the scripts take it (space-separated): null for every type, '' for none
 * (only types that do not exist were asked for).
 */
function typeFilter(types: readonly EventType[] | undefined): string | null {
  if (!types || types.length === 0) return null
  const known = new Set(types.filter((t) => EVENT_TYPES.includes(t)))
  return known.size === EVENT_TYPES.length ? null : [...known].join(' ')
}

/**
 * The event log in Redis: the stream `events`, which the scripts changing messages append to
 * (lib.lua `append_event`); positions are its ids, which the server hands out in increasing
 * order, commit order, and never again after a trim. Unfiltered reads are one XRANGE; filtered
 * reads and counts run on the server in bounded calls (read-events.lua, count-events.lua).
 */
export function createEventMethods(
  context: ShapingContext & { client: Redis; prefix: string },
): Pick<EventLogMethods, 'readEvents' | 'countEvents' | 'eventPosition' | 'purgeEvents'> {
  const { run, op, write, client, prefix } = context
  const stream = `${prefix}events`
  /** Where a read starts: a malformed position reads from the start, as in the SQL stores. */
  const start = (after: string | null) => (after !== null && POSITION.test(after) ? after : '')

  return {
    readEvents: ({ after, types, limit }) =>
      op(async () => {
        if (limit <= 0) return { events: [], cursor: after }
        const from = start(after)
        const only = typeFilter(types)
        if (only === '') {
          // Nothing can match: on to the end, as a read that skipped every event.
          const last = (await client.xrevrange(stream, '+', '-', 'COUNT', 1)) as Entry[]
          const end = last[0]?.[0]
          const past = end !== undefined && (from === '' || comparePositions(end, from) > 0)
          return { events: [], cursor: past ? end : after }
        }
        if (only === null) {
          const entries = (await client.xrange(
            stream,
            from === '' ? '-' : `(${from}`,
            '+',
            'COUNT',
            limit,
          )) as Entry[]
          return { events: entries.map(toEvent), cursor: entries.at(-1)?.[0] ?? after }
        }
        // Call after call until the page is full or the log ends: the cursor goes on past what
        // the filter skipped, and every call is short for the server.
        const events: StoredEvent[] = []
        let cursor = from
        for (;;) {
          const [upTo, more, ...entries] = (await run('read-events', [
            cursor,
            only,
            limit - events.length,
            SCAN_BUDGET,
          ])) as [string, number, ...Entry[]]
          events.push(...entries.map(toEvent))
          cursor = upTo
          if (Number(more) !== 1 || events.length >= limit) break
        }
        return { events, cursor: cursor === from ? after : cursor }
      }),

    countEvents: ({ after, types }) =>
      op(async () => {
        const from = start(after)
        const only = typeFilter(types)
        if (only === '') return 0
        if (only === null && from === '') return client.xlen(stream)
        let n = 0
        for (let cursor = from; ;) {
          const [counted, upTo, more] = (await run('count-events', [
            cursor,
            only ?? '',
            SCAN_BUDGET,
          ])) as [number, string, number]
          n += Number(counted)
          cursor = upTo
          if (Number(more) !== 1) return n
        }
      }),

    eventPosition: (at) =>
      op(async () => {
        if (at === 'end') {
          const last = (await client.xrevrange(stream, '+', '-', 'COUNT', 1)) as Entry[]
          return last[0]?.[0] ?? null
        }
        // A stream id starts with the server's time in ms at its write: the last id of an
        // earlier ms is just before the first event at or after `at`.
        const ms = Math.floor(at.getTime())
        if (ms > 0) {
          const before = (await client.xrevrange(stream, `(${ms}-0`, '-', 'COUNT', 1)) as Entry[]
          if (before[0]) return before[0][0]
        }
        // Nothing older: before the first event (XRANGE reads on from 0-0), or null when empty.
        return (await client.xlen(stream)) > 0 ? '0-0' : null
      }),

    purgeEvents: (before) =>
      op(async () => {
        const minId = `${Math.max(0, Math.floor(before.getTime()))}-0`
        let purged = 0
        // Whole stream nodes at a time (`~`), a bounded number per command, then exactly the
        // rest, which is at most part of one node.
        for (let round = 0; round < 100_000; round++) {
          const n = Number(
            await write(() => client.xtrim(stream, 'MINID', '~', minId, 'LIMIT', TRIM_LIMIT)),
          )
          purged += n
          if (n === 0) break
        }
        return purged + Number(await write(() => client.xtrim(stream, 'MINID', minId)))
      }),
  }
}
