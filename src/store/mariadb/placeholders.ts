import type { Query } from '../sql/driver.js'

/**
 * MariaDB and MySQL take positional `?` placeholders; the engine's statements number theirs
 * (`?3`, see `sql/query.ts`) so that a condition built first can sit anywhere in the text.
 * Turns one into the other: each `?N` becomes `?`, and the values are listed in text order.
 * The statements' own text never holds a `?` other than a placeholder.
 */
export function toPositional(query: Query): { sql: string; values: unknown[] } {
  const values: unknown[] = []
  const sql = query.text.replace(/\?(\d+)/g, (_, n: string) => {
    values.push(query.values[Number(n) - 1])
    return '?'
  })
  return { sql, values }
}
