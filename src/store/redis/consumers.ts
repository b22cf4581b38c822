import type { Redis } from 'ioredis'
import type { EventConsumer, EventLogMethods } from '../store.js'
import type { ShapingContext } from './shaping.js'

/** A consumer's hash (`cons:<name>`) as a flat list of fields and values, and its name. */
function toConsumer(name: string, flat: readonly string[]): EventConsumer {
  const f = new Map<string, string>()
  for (let i = 0; i + 1 < flat.length; i += 2) f.set(flat[i]!, flat[i + 1]!)
  const expires = f.get('lease_expires_at')
  return {
    name,
    cursor: f.get('cursor') ?? null,
    state: JSON.parse(f.get('state') ?? '{}') as Record<string, unknown>,
    leaseOwner: f.get('lease_owner') ?? null,
    leaseExpiresAt: expires ? new Date(Number(expires)) : null,
    retryRequests: Number(f.get('retry_requests') ?? 0),
    updatedAt: new Date(Number(f.get('updated_at') ?? 0)),
  }
}

/**
 * The event log's durable consumers (webhook endpoints): a hash each and the set `cons` of
 * their names; leases by the server's clock, in the `*-consumer` scripts.
 */
export function createConsumerMethods(
  context: ShapingContext & { client: Redis; prefix: string },
): Pick<EventLogMethods, 'leaseConsumer' | 'saveConsumer' | 'consumers' | 'requestConsumerRetry'> {
  const { run, op, write, client, prefix } = context
  return {
    leaseConsumer: ({ name, owner, leaseMs }) =>
      op(async () => {
        const flat = (await write(() =>
          run('lease-consumer', [name, owner, Math.max(0, Math.round(leaseMs))]),
        )) as string[] | null
        return flat ? toConsumer(name, flat) : null
      }),

    saveConsumer: ({ name, owner, cursor, state, leaseMs }) =>
      op(async () => {
        const saved = await write(() =>
          run('save-consumer', [
            name,
            owner,
            cursor ?? '',
            JSON.stringify(state),
            Math.max(0, Math.round(leaseMs)),
          ]),
        )
        return Number(saved) === 1
      }),

    consumers: () =>
      op(async () => {
        const names = (await client.smembers(`${prefix}cons`)).sort()
        // One pipeline: a round trip for every consumer, not one each.
        const pipeline = client.pipeline()
        for (const name of names) pipeline.hgetall(`${prefix}cons:${name}`)
        const rows = (await pipeline.exec()) ?? []
        return names.flatMap((name, i) => {
          const [error, hash] = rows[i] ?? [null, null]
          if (error) throw error
          const h = hash as Record<string, string> | null
          return h && Object.keys(h).length > 0 ? [toConsumer(name, Object.entries(h).flat())] : []
        })
      }),

    requestConsumerRetry: (names) =>
      op(async () =>
        Number(await write(() => run('request-consumer-retry', [JSON.stringify(names ?? null)]))),
      ),
  }
}
