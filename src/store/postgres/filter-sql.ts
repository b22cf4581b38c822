import type { MessageFilter, MessageSelector } from '../store.js'

/** A WHERE fragment with `$n` placeholders numbered from `firstParam`, and its parameters. */
export interface PgCondition {
  sql: string
  params: unknown[]
}

const escapeLike = (text: string): string => text.replace(/[\\%_]/g, (c) => `\\${c}`)

/** Conditions on `messages m` for a filter; placeholders start at `$firstParam`. */
export function pgFilterCondition(
  schema: string,
  filter: MessageFilter,
  firstParam = 1,
): PgCondition {
  const parts: string[] = []
  const params: unknown[] = []
  const p = (value: unknown): string => {
    params.push(value)
    return `$${firstParam + params.length - 1}`
  }
  if (filter.status && filter.status.length > 0)
    parts.push(`m.status = ANY(${p([...filter.status])}::text[])`)
  if (filter.from) parts.push(`lower(m.mail_from) = lower(${p(filter.from)})`)
  if (filter.to) {
    parts.push(
      filter.to.startsWith('@')
        ? `m.id IN (SELECT message_id FROM ${schema}.recipients WHERE lower(address) LIKE ${p(`%${escapeLike(filter.to.toLowerCase())}`)})`
        : `m.id IN (SELECT message_id FROM ${schema}.recipients WHERE lower(address) = lower(${p(filter.to)}))`,
    )
  }
  if (filter.tag)
    parts.push(
      `m.id IN (SELECT message_id FROM ${schema}.message_tags WHERE tag = ${p(filter.tag)})`,
    )
  if (filter.since) parts.push(`m.created_at >= ${p(filter.since)}`)
  if (filter.before) parts.push(`m.created_at < ${p(filter.before)}`)
  if (filter.subject) parts.push(`m.subject ILIKE ${p(`%${escapeLike(filter.subject)}%`)}`)
  return { sql: parts.length ? parts.join(' AND ') : 'true', params }
}

/** Conditions for a selector: some ids, or a filter. */
export function pgSelectorCondition(
  schema: string,
  selector: MessageSelector,
  firstParam = 1,
): PgCondition {
  if ('ids' in selector)
    return { sql: `m.id = ANY($${firstParam}::text[])`, params: [[...selector.ids]] }
  return pgFilterCondition(schema, selector.filter, firstParam)
}
