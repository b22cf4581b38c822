import { chunked, normalisedAddresses } from '../address-chunks.js'
import type { DeliverabilityMethods, Suppression, SuppressionReason } from '../store.js'
import type { ShapingContext } from './shaping.js'

/** Most addresses one script call carries. */
const CHUNK = 1000

/** An entry as `sup` holds it: JSON of reason, reply, message id and time. */
function toEntry(address: unknown, json: unknown): Suppression {
  const e = JSON.parse(String(json)) as Record<string, unknown>
  const text = (v: unknown) => (typeof v === 'string' ? v : null)
  return {
    address: String(address),
    reason: String(e.reason) as SuppressionReason,
    reply: text(e.reply),
    messageId: text(e.messageId),
    createdAt: new Date(Number(e.t)),
  }
}

/** The suppression list and delivery feedback, each call one script (see the `*suppress*.lua` scripts). */
export function createSuppressionMethods({
  run,
  op,
  write,
}: ShapingContext): DeliverabilityMethods {
  return {
    suppress: (entries) =>
      op(async () => {
        const byAddress = new Map(entries.map((e) => [e.address.trim().toLowerCase(), e] as const))
        let added = 0
        for (const chunk of chunked([...byAddress], CHUNK)) {
          const rows = chunk.map(([address, e]) => [address, e.reason, e.reply, e.messageId])
          added += Number(await write(() => run('suppress', [JSON.stringify(rows)])))
        }
        return added
      }),

    unsuppress: (addresses) =>
      op(async () => {
        let removed = 0
        for (const chunk of chunked(normalisedAddresses(addresses), CHUNK)) {
          removed += Number(await write(() => run('unsuppress', [JSON.stringify(chunk)])))
        }
        return removed
      }),

    listSuppressions: ({ search, limit, cursor }) =>
      op(async () => {
        const [total, page] = (await run('list-suppressions', [
          search?.trim().toLowerCase() ?? '',
          cursor ?? '',
          limit + 1,
        ])) as [number, [string, string][]]
        const entries = page.slice(0, limit).map(([a, e]) => toEntry(a, e))
        return {
          entries,
          nextCursor: page.length > limit ? entries[entries.length - 1]!.address : null,
          total: Number(total),
        }
      }),

    findSuppressions: (addresses) =>
      op(async () => {
        const out: Suppression[] = []
        for (const chunk of chunked(normalisedAddresses(addresses), CHUNK)) {
          const rows = (await run('find-suppressions', [JSON.stringify(chunk)])) as [
            string,
            string,
          ][]
          out.push(...rows.map(([a, e]) => toEntry(a, e)))
        }
        return out
      }),

    recordFeedback: (items) =>
      op(async () => {
        if (items.length === 0) return 0
        return Number(await write(() => run('record-feedback', [JSON.stringify(items)])))
      }),
  }
}
