import { z } from 'zod'
import { InvalidMessageError } from '../errors.js'
import type { ExternalTransaction } from '../store/store.js'
import { PRIORITIES, type Priority, type SendOptions } from './types.js'

/** Send options after validation: what the store is given. */
export interface ResolvedSendOptions {
  priority: Priority
  sendAt: Date | null
  idempotencyKey: string | null
  tags: string[]
  /** The upstream to send it through, overriding the routes; null: the routes decide. */
  upstream: string | null
  transaction: ExternalTransaction | null
  /** Send even to recipients on the suppression list. */
  ignoreSuppression: boolean
}

const sendOptionsSchema = z.strictObject({
  priority: z.enum(PRIORITIES as [Priority, ...Priority[]]).optional(),
  sendAt: z.union([z.date(), z.string(), z.number()]).optional(),
  idempotencyKey: z
    .string()
    .min(1)
    .max(255)
    .regex(/^[^\x00-\x1f\x7f]+$/, 'must not contain control characters')
    .optional(),
  tags: z
    .array(
      z
        .string()
        .min(1)
        .max(64)
        .regex(/^[^\s,\x00-\x1f\x7f]+$/, 'must have no spaces, commas or control characters'),
    )
    .max(20)
    .optional(),
  upstream: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be the name of a configured upstream')
    .optional(),
  ignoreSuppression: z.boolean().optional(),
  db: z
    .custom<ExternalTransaction>(
      (v) =>
        typeof v === 'object' &&
        v !== null &&
        typeof (v as { query?: unknown }).query === 'function',
      'expected a database client with a query() method (a pg Client or PoolClient inside BEGIN)',
    )
    .optional(),
})

/**
 * Validates the options of one `send()`. Throws {@link InvalidMessageError} whose `field` is
 * `options.<name>`, so the caller knows which argument to fix.
 */
export function resolveSendOptions(options: SendOptions | undefined): ResolvedSendOptions {
  const parsed = sendOptionsSchema.safeParse(options ?? {})
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    if (issue.code === 'unrecognized_keys') {
      const key = issue.keys[0] ?? ''
      throw new InvalidMessageError(
        `options.${key}`,
        `Unknown send option \`${key}\`. Known options: priority, sendAt, idempotencyKey, tags, upstream, ignoreSuppression, db.`,
      )
    }
    const path = ['options', ...issue.path.map(String)].join('.')
    throw new InvalidMessageError(path, `\`${path}\` is invalid: ${issue.message}.`)
  }
  const {
    priority = 'normal',
    sendAt,
    idempotencyKey,
    tags = [],
    upstream,
    db,
    ignoreSuppression = false,
  } = parsed.data
  let due: Date | null = null
  if (sendAt !== undefined) {
    due = sendAt instanceof Date ? sendAt : new Date(sendAt)
    if (Number.isNaN(due.getTime())) {
      throw new InvalidMessageError(
        'options.sendAt',
        `\`options.sendAt\` is not a valid time: ${JSON.stringify(sendAt)}; give a Date or an ISO 8601 string.`,
      )
    }
  }
  return {
    priority,
    sendAt: due,
    idempotencyKey: idempotencyKey ?? null,
    tags: [...new Set(tags)],
    upstream: upstream ?? null,
    transaction: db ?? null,
    ignoreSuppression,
  }
}
