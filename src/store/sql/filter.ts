import type { MessageFilter, MessageSelector } from '../store.js'
import type { FilterSql } from './dialect.js'
import type { Condition } from './query.js'

/** The condition a filter stands for: every criterion given must match. */
export function filterCondition(sql: FilterSql, filter: MessageFilter): Condition {
  return (p) => {
    const parts: string[] = []
    if (filter.status && filter.status.length > 0) parts.push(sql.status(p, filter.status))
    if (filter.from) parts.push(sql.from(p, filter.from))
    if (filter.to) {
      parts.push(
        filter.to.startsWith('@') ? sql.toDomain(p, filter.to) : sql.toAddress(p, filter.to),
      )
    }
    if (filter.tag) parts.push(sql.tag(p, filter.tag))
    if (filter.since) parts.push(sql.since(p, filter.since))
    if (filter.before) parts.push(sql.before(p, filter.before))
    if (filter.subject) parts.push(sql.subject(p, filter.subject))
    return parts.length > 0 ? parts.join(' AND ') : sql.all
  }
}

/** The condition a selector stands for: some ids, or a filter. */
export function selectorCondition(sql: FilterSql, selector: MessageSelector): Condition {
  if ('ids' in selector) return (p) => sql.ids(p, selector.ids)
  return filterCondition(sql, selector.filter)
}

/** `%` and `_` (and the escape itself) taken literally in a LIKE pattern escaped with `\`. */
export const escapeLike = (text: string): string => text.replace(/[\\%_]/g, (c) => `\\${c}`)
