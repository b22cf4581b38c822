import type { MessageStatus, RecipientStatus } from '../../message/types.js'
import { priorityFromRank } from '../priority-rank.js'
import type { AttemptRecord, MessageDetail, MessageSummary } from '../store.js'
import { templateRefOf } from './templates.js'

/** A message hash as Redis returns it: field -> value, absent fields are nulls. */
export type MessageHash = Record<string, string>

/** HGETALL's flat [field, value, …] reply as an object. */
export function fromPairs(pairs: readonly unknown[]): MessageHash {
  const hash: MessageHash = {}
  for (let i = 0; i + 1 < pairs.length; i += 2) hash[String(pairs[i])] = String(pairs[i + 1])
  return hash
}

const time = (v: string | undefined) => (v === undefined ? null : new Date(Number(v)))
const text = (v: string | undefined) => v ?? null

/** A message hash (with its id) as operators see it. */
export function toSummary(id: string, h: MessageHash): MessageSummary {
  return {
    id,
    messageId: h.message_id ?? '',
    status: h.status as MessageStatus,
    priority: priorityFromRank(Number(h.priority)),
    from: h.mail_from ?? '',
    recipients: JSON.parse(h.recipients ?? '[]') as string[],
    subject: text(h.subject),
    tags: JSON.parse(h.tags ?? '[]') as string[],
    size: Number(h.size ?? 0),
    attempts: Number(h.attempts ?? 0),
    createdAt: time(h.created_at)!,
    // Kept while sending (for the listing); gone once finished or held.
    dueAt: time(h.due_at),
    expiresAt: time(h.expires_at)!,
    reason: text(h.reason),
    lastError: text(h.last_error),
    captured: h.captured === '1',
    idempotencyKey: text(h.idempotency_key),
    upstream: text(h.upstream),
    leaseOwner: text(h.lease_owner),
    leaseExpiresAt: time(h.lease_expires_at),
    finishedAt: time(h.finished_at),
  }
}

/** The recipients' states (`rc`: [address, status, code, reply] each) and the attempt log. */
export function toDetail(id: string, h: MessageHash, attempts: readonly string[]): MessageDetail {
  const rc = JSON.parse(h.rc ?? '[]') as [string, RecipientStatus, number | null, string | null][]
  return {
    ...toSummary(id, h),
    recipientStatus: rc.map(([address, status, code, reply]) => ({
      address,
      status,
      code: code ?? null,
      reply: reply ?? null,
    })),
    attemptLog: attempts.map((entry): AttemptRecord => {
      const { t, a } = JSON.parse(entry) as { t: number; a: Omit<AttemptRecord, 'startedAt'> }
      // Attempts logged before the upstream was recorded have none.
      return { ...a, startedAt: new Date(t), upstream: a.upstream ?? null }
    }),
    template: templateRefOf(h.template),
  }
}
