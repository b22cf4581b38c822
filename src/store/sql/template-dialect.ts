import type { Query } from './driver.js'
import type { TemplateRef } from '../store.js'

/** A version of one language of a template as a dialect writes it. */
export interface TemplateRow {
  name: string
  language: string
  version: number
  subject: string
  html: string | null
  text: string | null
}

/**
 * The statements of stored templates each SQL dialect supplies (see `templates.ts` for what the
 * engine does with them). Template rows have the columns `name`, `language`, `version`,
 * `subject`, `html`, `text`, `created_at`; the primary key is (name, language, version). Names
 * and languages compare byte for byte. The template a message was made from is the column
 * `template` of its message row (`SqlDialect.insertMessages`, `SqlDialect.messageRow`).
 */
export interface TemplateSql {
  /**
   * Optional: statements, run first in the transaction of a new version, that make other
   * writers of (name, language) wait until it ends (PostgreSQL: an advisory lock). Without it
   * the primary key refuses the second of two writers that took the same version, and the
   * engine runs that one again (see {@link isTemplateConflict}).
   */
  lockTemplate?(name: string, language: string): Query[]
  /** The template row of version `version` of (name, language), or of its latest when null. */
  templateRow(input: { name: string; language: string; version: number | null }): Query
  /** Stores a version, created now. */
  insertTemplate(row: TemplateRow): Query
  /** Every template row of `name`, by language, then newest version first. */
  templateRows(name: string): Query
  /** `name`, `language`, `version`, `created_at` of the latest version of each language, by name then language. */
  templateHeads(): Query
  /** Deletes every version of `name` (of `language` only, when given); returns a row for each. */
  deleteTemplate(name: string, language: string | null): Query
  /**
   * Whether a driver error (or its cause) is the primary key refusing a version that another
   * writer stored meanwhile, or a deadlock between such writers: the put is run again.
   */
  isTemplateConflict(error: unknown): boolean
}

/**
 * The `template` column of a new message row: JSON text `{"name","language","version"}`, or
 * null for a message made without a template.
 */
export function templateColumn(ref: TemplateRef | null | undefined): string | null {
  return ref
    ? JSON.stringify({ name: ref.name, language: ref.language, version: ref.version })
    : null
}
