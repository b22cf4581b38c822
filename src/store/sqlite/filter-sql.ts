import type { MessageFilter, MessageSelector } from '../store.js'

/** A WHERE fragment and its parameters. */
export interface SqlCondition {
  sql: string
  params: unknown[]
}

const escapeLike = (text: string): string => text.replace(/[\\%_]/g, (c) => `\\${c}`)

/**
 * Turns a filter into conditions on `messages m`. Recipient and tag criteria are IN-subqueries
 * so that SQLite can drive the query from their indexes when they are selective.
 */
export function filterCondition(filter: MessageFilter): SqlCondition {
  const parts: string[] = []
  const params: unknown[] = []
  if (filter.status && filter.status.length > 0) {
    parts.push(`m.status IN (${filter.status.map(() => '?').join(', ')})`)
    params.push(...filter.status)
  }
  if (filter.from) {
    parts.push('m.mail_from = ? COLLATE NOCASE')
    params.push(filter.from)
  }
  if (filter.to) {
    if (filter.to.startsWith('@')) {
      parts.push(`m.id IN (SELECT message_id FROM recipients WHERE address LIKE ? ESCAPE '\\')`)
      params.push(`%${escapeLike(filter.to)}`)
    } else {
      parts.push('m.id IN (SELECT message_id FROM recipients WHERE address = ? COLLATE NOCASE)')
      params.push(filter.to)
    }
  }
  if (filter.tag) {
    parts.push('m.id IN (SELECT message_id FROM message_tags WHERE tag = ?)')
    params.push(filter.tag)
  }
  if (filter.since) {
    parts.push('m.created_at >= ?')
    params.push(filter.since.getTime())
  }
  if (filter.before) {
    parts.push('m.created_at < ?')
    params.push(filter.before.getTime())
  }
  if (filter.subject) {
    parts.push(`m.subject LIKE ? ESCAPE '\\'`)
    params.push(`%${escapeLike(filter.subject)}%`)
  }
  return { sql: parts.length ? parts.join(' AND ') : '1 = 1', params }
}

/** Conditions for a selector: some ids, or a filter. */
export function selectorCondition(selector: MessageSelector): SqlCondition {
  if ('ids' in selector) {
    return {
      sql: 'm.id IN (SELECT value FROM json_each(?))',
      params: [JSON.stringify(selector.ids)],
    }
  }
  return filterCondition(selector.filter)
}
