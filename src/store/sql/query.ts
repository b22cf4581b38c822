import type { Query } from './driver.js'

/** Adds a value to a statement's parameters and returns its placeholder (`$3`, `?3`). */
export type Param = (value: unknown) => string

/** Builds one {@link Query}: `build` writes the text, calling `p(value)` for each value. */
export type QueryBuilder = (build: (p: Param) => string, name?: string) => Query

/**
 * A query builder for a placeholder style: `$` for PostgreSQL (`$1`), `?` for SQLite (`?1`).
 * Placeholders are numbered, so a condition built before the text around it binds right.
 */
export function queryBuilder(prefix: '$' | '?'): QueryBuilder {
  return (build, name) => {
    const values: unknown[] = []
    const text = build((value) => {
      values.push(value)
      return `${prefix}${values.length}`
    })
    return name ? { text, values, name } : { text, values }
  }
}

/** A condition on `messages m` (or the dialect's equivalent), written with `p`. */
export type Condition = (p: Param) => string
