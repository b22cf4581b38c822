import { z } from 'zod'
import { InvalidMessageError } from '../errors.js'
import { MESSAGE_STATUSES, PRIORITIES, type MessageStatus } from '../message/types.js'
import {
  EVENT_TYPES,
  SUPPRESSION_REASONS,
  type EventType,
  type MessageFilter,
  type MessageSelector,
  type SuppressionReason,
} from '../store/store.js'

/**
 * The request shapes of the HTTP API, in one place: handlers parse with them, and the OpenAPI
 * document is generated from them, so the two cannot drift apart.
 */

const text = z.string().trim().min(1).max(1000)
const date = z
  .union([z.string(), z.number()])
  .describe('ISO 8601 date-time (2026-11-23T10:00:00Z) or milliseconds since the epoch')
const status = z.enum(MESSAGE_STATUSES as [MessageStatus, ...MessageStatus[]])
const statusList = z
  .union([z.string(), z.array(z.string())])
  .describe(`Comma-separated or repeated: ${MESSAGE_STATUSES.join(', ')}`)

export const messageFilterSchema = z
  .object({
    status: statusList.optional(),
    to: text.optional().describe('A recipient address (case-insensitive), or @domain'),
    from: text.optional().describe('The envelope sender (case-insensitive)'),
    tag: text.optional(),
    subject: text.optional().describe('Subject contains this text (case-insensitive)'),
    since: date.optional().describe('Created at or after this time'),
    before: date.optional().describe('Created before this time'),
  })
  .strict()

export const listQuerySchema = messageFilterSchema
  .extend({
    limit: z
      .union([z.string().regex(/^\d+$/), z.number()])
      .optional()
      .describe('Messages per page, 1 to 1000 (default 50)'),
    cursor: z.string().max(500).optional().describe('`nextCursor` of the previous page'),
  })
  .strict()

export const selectorSchema = z.union([
  z.object({ ids: z.array(z.string().min(1).max(100)).min(1).max(10_000) }).strict(),
  z.object({ filter: messageFilterSchema }).strict(),
])

export const purgeSchema = z
  .object({
    olderThan: z
      .union([z.string(), z.number()])
      .describe('A duration such as 7d, or milliseconds; finished longer ago than this'),
    status: z.enum(['sent', 'failed', 'all']).default('all'),
  })
  .strict()

export const enqueueSchema = z
  .object({
    mail: z
      .record(z.string(), z.unknown())
      .describe(
        'The message, with the fields of `outbox.send()` (Nodemailer message fields): from, to, cc, bcc, ' +
          'replyTo, subject, text, html, attachments ({ filename, content, encoding: "base64", contentType }), ' +
          'headers, messageId… Files and URLs are not read: send attachment content inline. ' +
          'Or made from a stored template: `template` (its name), `language` (falls back to the base ' +
          'language, then `templates.defaultLanguage`), `context` (an object of the variables it uses; ' +
          'every one must be there) with to, from, cc… but no subject, text or html: it is rendered ' +
          'once, now, and the message records the version. An unknown template or language, a missing ' +
          'variable or a context that is not an object is a 400 naming the field; nothing is stored.',
      ),
    options: z
      .object({
        priority: z.enum(PRIORITIES as [string, ...string[]]).optional(),
        sendAt: date.optional(),
        idempotencyKey: z.string().optional(),
        tags: z.array(z.string()).optional(),
        ignoreSuppression: z
          .boolean()
          .optional()
          .describe('Send even to recipients on the suppression list'),
      })
      .strict()
      .optional(),
  })
  .strict()

const suppressionReason = z
  .enum(SUPPRESSION_REASONS as [SuppressionReason, ...SuppressionReason[]])
  .describe('Why the address is suppressed (default manual)')
const suppressionNote = z
  .string()
  .max(1000)
  .nullable()
  .describe('A note for the next operator, stored as the reply')
const addressList = z.array(z.string().max(1000)).min(1).max(1000)

export const suppressionListQuerySchema = z
  .object({
    search: z.string().max(320).optional().describe('Only addresses containing this text'),
    limit: z
      .union([z.string().regex(/^\d+$/), z.number()])
      .optional()
      .describe('Entries per page, 1 to 1000 (default 50)'),
    cursor: z.string().max(400).optional().describe('`nextCursor` of the previous page'),
  })
  .strict()

export const suppressionAddSchema = z
  .object({
    addresses: addressList.optional().describe('Addresses to suppress (at most 1000)'),
    csv: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Instead of `addresses`: a file to import, one address per line or a CSV with a header naming ' +
          'an `address` (or `email`) column and optionally `reason` and `reply`',
      ),
    reason: suppressionReason.optional(),
    reply: suppressionNote.optional(),
    skipInvalid: z
      .boolean()
      .optional()
      .describe('With `csv`: store the good lines and report the bad ones, instead of nothing'),
  })
  .strict()

export const suppressionRemoveSchema = z
  .object({ addresses: addressList.describe('Addresses to take off the list (at most 1000)') })
  .strict()

export const suppressionParamsSchema = z.object({ address: z.string().min(1).max(1000) })

export const webhookRetrySchema = z
  .object({
    names: z
      .array(z.string().min(1).max(200))
      .max(1000)
      .optional()
      .describe(
        'Endpoints to retry, by name (as `GET /api/webhooks` lists them); all when absent or empty',
      ),
  })
  .strict()

export const eventLogQuerySchema = z
  .object({
    after: z
      .string()
      .max(100)
      .optional()
      .describe("`cursor` of the previous page (or an event's `seq`): only events after it"),
    since: date.optional().describe('Without `after`: from the first event at or after this time'),
    types: z
      .union([z.string(), z.array(z.string())])
      .optional()
      .describe(`Comma-separated or repeated: ${EVENT_TYPES.join(', ')}`),
    limit: z
      .union([z.string().regex(/^\d+$/), z.number()])
      .optional()
      .describe('Events per page, 1 to 1000 (default 100)'),
  })
  .strict()

const templatePart = (what: string) =>
  z
    .string()
    .nullable()
    .optional()
    .describe(`${what} (Liquid source); null, blank or absent for none. HTML or text: one at least`)
const templateLanguage = z
  .string()
  .max(35)
  .describe('A language tag: en, de, de-AT (normalised: de_at is de-AT)')

/** One language of a template as written (Liquid source). */
export const templateContentSchema = z
  .object({
    subject: z.string().describe('The subject (Liquid source), one line once rendered'),
    html: templatePart('The HTML part: `{{ … }}` is HTML-escaped, `| raw` is not'),
    text: templatePart('The text part: made from the HTML when absent'),
  })
  .strict()

export const templatePutSchema = templateContentSchema
  .extend({ language: templateLanguage })
  .strict()

export const templateRenderSchema = z
  .object({
    language: templateLanguage
      .optional()
      .describe(
        'As in sending: falls back to the base language, then the default; without it, the ' +
          "default language or the template's only one (with `content`: en)",
      ),
    version: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('A stored version of that language (default: the latest)'),
    context: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('The variables, as `context` when sending; every variable used must be there'),
    content: templateContentSchema
      .optional()
      .describe(
        'Unsaved content to render instead of a stored version (a preview while editing): the ' +
          'template need not exist',
      ),
    preview: z
      .boolean()
      .optional()
      .describe(
        'Also keep the HTML for a while (10 minutes, the last 50) and answer its `preview` URL: ' +
          'the dashboard shows it in a sandboxed frame, as message HTML',
      ),
  })
  .strict()

export const templateParamsSchema = z.object({ name: z.string().min(1).max(200) })
export const templateRemoveQuerySchema = z
  .object({
    language: templateLanguage
      .optional()
      .describe('Delete only this language (all its versions); without it, the whole template'),
  })
  .strict()
export const previewParamsSchema = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/) })

export const sessionSchema = z.object({ token: z.string() }).strict()

export const idParamsSchema = z.object({ id: z.string().min(1).max(100) })
export const attachmentParamsSchema = idParamsSchema.extend({
  index: z.string().regex(/^\d{1,4}$/),
})

/** Parses `value`, or throws InvalidMessageError naming the first bad field. */
export function parseInput<T extends z.ZodType>(
  schema: T,
  value: unknown,
  where: string,
): z.output<T> {
  const result = schema.safeParse(value ?? {})
  if (result.success) return result.data
  const issue = result.error.issues[0]!
  const path = issue.path.map(String).join('.')
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.join(', ')
    throw new InvalidMessageError(keys, `Unknown ${where} field(s): ${keys}.`)
  }
  if (issue.code === 'invalid_union' && path === '') {
    throw new InvalidMessageError(
      where,
      `The ${where} must be { "ids": [...] } or { "filter": {...} }.`,
    )
  }
  throw new InvalidMessageError(
    path || where,
    `${where} field \`${path || where}\`: ${issue.message}.`,
  )
}

export function toDate(field: string, value: string | number): Date {
  const date =
    typeof value === 'number' || /^\d+$/.test(value) ? new Date(Number(value)) : new Date(value)
  if (Number.isNaN(date.getTime())) {
    throw new InvalidMessageError(
      field,
      `\`${field}\` must be an ISO 8601 date-time or milliseconds since the epoch, got ${JSON.stringify(value)}.`,
    )
  }
  return date
}

/** A parsed filter (query string or JSON body) as the store's {@link MessageFilter}. */
export function toMessageFilter(input: z.output<typeof messageFilterSchema>): MessageFilter {
  const filter: MessageFilter = {}
  if (input.status !== undefined) {
    const names = (Array.isArray(input.status) ? input.status : [input.status])
      .flatMap((s) => s.split(','))
      .map((s) => s.trim())
      .filter(Boolean)
    filter.status = names.map((name) => {
      const parsed = status.safeParse(name)
      if (!parsed.success) {
        throw new InvalidMessageError(
          'status',
          `Unknown status ${JSON.stringify(name)}; expected one of ${MESSAGE_STATUSES.join(', ')}.`,
        )
      }
      return parsed.data
    })
  }
  if (input.to) filter.to = input.to
  if (input.from) filter.from = input.from
  if (input.tag) filter.tag = input.tag
  if (input.subject) filter.subject = input.subject.normalize('NFC') // as stored subjects are
  if (input.since !== undefined) filter.since = toDate('since', input.since)
  if (input.before !== undefined) filter.before = toDate('before', input.before)
  return filter
}

/** `types` of the event-log query (comma-separated or repeated) as event types. */
export function toEventTypes(input: string | string[] | undefined): EventType[] {
  const names = (Array.isArray(input) ? input : input === undefined ? [] : [input])
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean)
  return names.map((name) => {
    if (!(EVENT_TYPES as readonly string[]).includes(name)) {
      throw new InvalidMessageError(
        'types',
        `Unknown event type ${JSON.stringify(name)}; expected one of ${EVENT_TYPES.join(', ')}.`,
      )
    }
    return name as EventType
  })
}

/** A parsed bulk-action body as a {@link MessageSelector}. */
export function toSelector(input: z.output<typeof selectorSchema>): MessageSelector {
  if ('ids' in input) return { ids: input.ids }
  const filter = toMessageFilter(input.filter)
  // An empty filter matches every message: too easy to send by mistake to a bulk delete.
  if (Object.keys(filter).length === 0) {
    throw new InvalidMessageError(
      'filter',
      'A bulk action needs at least one filter criterion (status, to, from, tag, subject, since, before).',
    )
  }
  return { filter }
}
