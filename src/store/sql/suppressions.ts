import { chunked, normalisedAddresses } from '../address-chunks.js'
import type { DeliverabilityMethods, Suppression, SuppressionReason } from '../store.js'
import type { RowCodec } from './dialect.js'
import type { Row, SqlDriver } from './driver.js'
import type { SuppressionSql } from './suppression-dialect.js'

/** Most addresses one statement carries (imports come in chunks of this many). */
const CHUNK = 500

/**
 * The suppression list and delivery feedback on a SQL store: plain reads and writes of the
 * `suppressions` table and of recipient rows. `op` is the engine's wrapper of public operations.
 */
export function createSuppressions(options: {
  driver: SqlDriver
  dialect: SuppressionSql & { readonly codec: RowCodec }
  op: <T>(work: () => Promise<T>) => Promise<T>
}): DeliverabilityMethods {
  const { driver, dialect, op } = options
  const { codec } = dialect

  const toEntry = (row: Row): Suppression => ({
    address: String(row.address),
    reason: String(row.reason) as SuppressionReason,
    reply: typeof row.reply === 'string' ? row.reply : null,
    messageId: typeof row.message_id === 'string' ? row.message_id : null,
    createdAt: new Date(codec.time(row.created_at) ?? 0),
  })

  return {
    suppress: (entries) =>
      op(async () => {
        // The last entry of an address wins, as if they were added one after the other.
        const byAddress = new Map(entries.map((e) => [e.address.trim().toLowerCase(), e] as const))
        if (byAddress.size === 0) return 0
        let added = 0
        for (const chunk of chunked([...byAddress], CHUNK)) {
          added += await driver.transaction(async (tx) => {
            const known = await tx.query(dialect.findSuppressions(chunk.map(([a]) => a)))
            await tx.query(
              dialect.upsertSuppressions(
                chunk.map(([address, e]) => ({
                  address,
                  reason: e.reason,
                  reply: e.reply,
                  messageId: e.messageId,
                })),
              ),
            )
            return chunk.length - known.length
          })
        }
        return added
      }),

    unsuppress: (addresses) =>
      op(async () => {
        let removed = 0
        for (const chunk of chunked(normalisedAddresses(addresses), CHUNK)) {
          removed += await driver.transaction(async (tx) => {
            const known = await tx.query(dialect.findSuppressions(chunk))
            if (known.length > 0) await tx.query(dialect.deleteSuppressions(chunk))
            return known.length
          })
        }
        return removed
      }),

    listSuppressions: ({ search, limit, cursor }) =>
      op(async () => {
        const text = search?.trim().toLowerCase() || null
        const [rows, count] = await Promise.all([
          driver.query(
            dialect.listSuppressions({ search: text, after: cursor ?? null, limit: limit + 1 }),
          ),
          driver.query(dialect.countSuppressions(text)),
        ])
        const entries = rows.slice(0, limit).map(toEntry)
        return {
          entries,
          nextCursor: rows.length > limit ? entries[entries.length - 1]!.address : null,
          total: Number(count[0]?.n ?? 0),
        }
      }),

    findSuppressions: (addresses) =>
      op(async () => {
        const out: Suppression[] = []
        for (const chunk of chunked(normalisedAddresses(addresses), CHUNK)) {
          out.push(...(await driver.query(dialect.findSuppressions(chunk))).map(toEntry))
        }
        return out
      }),

    recordFeedback: (items) =>
      op(async () => {
        if (items.length === 0) return 0
        return driver.transaction(async (tx) => {
          let found = 0
          for (const item of items) {
            const [row] = await tx.query(dialect.findRecipient(item.id, item.address))
            if (!row) continue
            await tx.query(
              dialect.recordFeedback({
                id: item.id,
                address: String(row.address),
                kind: item.kind,
                code: item.code,
                reply: item.reply,
              }),
            )
            found++
          }
          return found
        })
      }),
  }
}
