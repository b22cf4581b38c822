import type {
  EnqueueResult,
  NewMessage,
  PrepareSubmissions,
  Store,
  Submission,
  TakenSubmissions,
} from '../store.js'
import { PRIORITIES, type Priority } from '../../message/types.js'
import type { RowCodec } from './dialect.js'
import type { Row, SqlDriver, SqlTransaction } from './driver.js'
import type { SubmissionSql } from './submission-dialect.js'

/** A submission row as the engine hands it on. */
function toSubmission(codec: RowCodec, row: Row): Submission {
  const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : codec.list(v))
  const priority = String(row.priority)
  const sendAt = codec.time(row.send_at)
  return {
    id: String(row.id),
    raw: Buffer.isBuffer(row.raw) ? row.raw : Buffer.from(String(row.raw)),
    from: String(row.mail_from),
    to: list(row.rcpt_to),
    priority: (PRIORITIES as readonly string[]).includes(priority)
      ? (priority as Priority)
      : 'normal',
    sendAt: sendAt === null ? null : new Date(sendAt),
    idempotencyKey: typeof row.idempotency_key === 'string' ? row.idempotency_key : null,
    tags: list(row.tags),
    upstream: typeof row.upstream === 'string' ? row.upstream : null,
    ignoreSuppression: codec.flag(row.ignore_suppression),
  }
}

/**
 * The store members of SQL submissions, where the dialect has them. `insert` stores messages
 * within a transaction exactly as `enqueue()` does; `woken` tells this process's workers.
 */
export function createSubmissions(deps: {
  driver: SqlDriver
  sql: SubmissionSql | undefined
  codec: RowCodec
  op: <T>(work: () => Promise<T>) => Promise<T>
  insert: (tx: SqlTransaction, messages: readonly NewMessage[]) => Promise<EnqueueResult[]>
  woken: () => void
}): Pick<Store, 'takeSubmissions' | 'configureSubmissions'> {
  const { driver, sql, codec, op } = deps
  if (!sql) return {}
  return {
    takeSubmissions: (limit: number, prepare: PrepareSubmissions) =>
      op(async (): Promise<TakenSubmissions> => {
        const result = await driver.transaction(async (tx): Promise<TakenSubmissions> => {
          const rows = await tx.query(sql.takeSubmissions(limit))
          if (rows.length === 0) return { taken: 0, stored: [] }
          const { messages, refused } = await prepare(rows.map((r) => toSubmission(codec, r)))
          const results = messages.length > 0 ? await deps.insert(tx, messages) : []
          const accepted = rows.map((r) => String(r.id)).filter((id) => !refused.has(id))
          if (accepted.length > 0) await tx.query(sql.removeSubmissions(accepted))
          for (const [id, reason] of refused) await tx.query(sql.refuseSubmission(id, reason))
          const stored = results.flatMap((r, i) =>
            r.duplicate ? [] : [{ id: r.id, priority: messages[i]!.priority }],
          )
          return { taken: rows.length, stored }
        })
        if (result.stored.length > 0) deps.woken()
        return result
      }),
    configureSubmissions: (settings) =>
      op(async () => {
        await driver.write(sql.configureSubmissions(settings))
      }),
  }
}
