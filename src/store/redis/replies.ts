import { MESSAGE_STATUSES, type MessageStatus } from '../../message/types.js'
import { priorityFromRank } from '../priority-rank.js'
import { toActivityBuckets, type Activity, type ClaimedMessage, type QueueStats } from '../store.js'
import { fromPairs } from './summary.js'

/** What the scripts and reads of the Redis store return, turned into the contract's types. */

const text = (v: unknown) => (Buffer.isBuffer(v) ? v.toString() : String(v))

/**
 * The `claim` script's rows (read as Buffers, for the bytes), with its durations turned into
 * this process's clock at `local`, taken after the reply: a slow round trip makes a message
 * expire a little late here, never early.
 */
export function toClaimed(rows: readonly unknown[][], local: number): ClaimedMessage[] {
  return rows.map((r): ClaimedMessage => {
    const pending = JSON.parse(text(r[11])) as unknown
    return {
      id: text(r[0]),
      messageId: text(r[1]),
      from: text(r[2]),
      priority: priorityFromRank(Number(text(r[3]))),
      attempts: Number(text(r[4])),
      backoffStep: Number(text(r[5])),
      eightBit: r[6] == null ? null : text(r[6]) === '1',
      smtpUtf8: r[7] == null ? null : text(r[7]) === '1',
      createdAt: new Date(local - Number(text(r[8]))),
      expiresAt: new Date(local + Number(text(r[9]))),
      raw: Buffer.isBuffer(r[10]) ? r[10] : null,
      // An empty Lua table encodes as `{}`: no pending recipients.
      pendingRecipients: Array.isArray(pending) ? pending.map(String) : [],
      failedRecipients: Number(r[12]),
      tags: JSON.parse(text(r[13])) as string[],
      upstream: r[14] == null ? null : text(r[14]),
    }
  })
}

/** The `stats` script's reply. */
export type StatsReply = [unknown[], string | null, number, number, number, number, string[] | null]

export function toQueueStats(reply: StatsReply, durabilityRisk: string | null): QueueStats {
  const [counts, oldest, sentHour, sentDay, failedHour, failedDay, problem] = reply
  const stored = fromPairs(counts)
  return {
    counts: Object.fromEntries(MESSAGE_STATUSES.map((s) => [s, Number(stored[s] ?? 0)])) as Record<
      MessageStatus,
      number
    >,
    oldestWaitingAt: oldest === null ? null : new Date(Number(oldest)),
    sentLastHour: Number(sentHour),
    sentLastDay: Number(sentDay),
    failedLastHour: Number(failedHour),
    failedLastDay: Number(failedDay),
    upstreamProblem: problem
      ? {
          kind: problem[1] === 'misconfigured' ? 'misconfigured' : 'unreachable',
          at: new Date(Number(problem[0])),
          error: String(problem[2]),
        }
      : null,
    ...(durabilityRisk ? { durabilityWarning: durabilityRisk } : {}),
  }
}

/**
 * The attempt log's entries since a time (`seq:outcome`, or `seq:outcome:upstream`,
 * WITHSCORES) in buckets, and `up`.
 */
export function toActivity(
  entries: readonly string[],
  up: readonly (string | null)[],
  bucketMs: number,
): Activity {
  const counts = new Map<string, { bucket: number; outcome: string; n: number }>()
  for (let i = 0; i + 1 < entries.length; i += 2) {
    const entry = entries[i]!
    const start = entry.indexOf(':') + 1
    const end = entry.indexOf(':', start)
    const outcome = end < 0 ? entry.slice(start) : entry.slice(start, end)
    const bucket = Math.floor(Number(entries[i + 1]) / bucketMs) * bucketMs
    const key = `${bucket}:${outcome}`
    const row = counts.get(key) ?? { bucket, outcome, n: 0 }
    row.n++
    counts.set(key, row)
  }
  const [successAt, errorAt, error] = up
  return {
    buckets: toActivityBuckets([...counts.values()]),
    lastSuccessAt: successAt ? new Date(Number(successAt)) : null,
    lastError: errorAt && error ? { at: new Date(Number(errorAt)), error } : null,
  }
}
