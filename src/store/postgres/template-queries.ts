import { queryBuilder } from '../sql/query.js'
import type { TemplateSql } from '../sql/template-dialect.js'

/**
 * The stored template statements of the PostgreSQL store, for one schema (see
 * sql/templates.ts). A new version is written under a transaction-scoped advisory lock on the
 * name and language, so concurrent writers take turns instead of colliding on the key. Names
 * and languages sort byte for byte (`COLLATE "C"`), as in every store.
 */

const q = queryBuilder('$')
const TEMPLATE = 'name, language, version, subject, html, text, created_at'
/** A unique violation: only without the lock (another writer of the same schema's tables). */
const UNIQUE_VIOLATION = '23505'

export function postgresTemplates(s: string): TemplateSql {
  return {
    lockTemplate: (name, language) => [
      q(
        (p) =>
          `SELECT pg_advisory_xact_lock(hashtext(${p(JSON.stringify(['outbox template', s, name, language]))}))`,
      ),
    ],

    templateRow: ({ name, language, version }) =>
      q(
        (p) => `SELECT ${TEMPLATE} FROM ${s}.templates
          WHERE name = ${p(name)} AND language = ${p(language)}
            ${version === null ? '' : `AND version = ${p(version)}`}
          ORDER BY version DESC LIMIT 1`,
      ),

    insertTemplate: (t) =>
      q(
        (p) => `INSERT INTO ${s}.templates (name, language, version, subject, html, text)
          VALUES (${p(t.name)}, ${p(t.language)}, ${p(t.version)}, ${p(t.subject)}, ${p(t.html)},
            ${p(t.text)})`,
      ),

    templateRows: (name) =>
      q(
        (p) => `SELECT ${TEMPLATE} FROM ${s}.templates WHERE name = ${p(name)}
          ORDER BY language COLLATE "C", version DESC`,
      ),

    templateHeads: () =>
      q(
        () => `SELECT DISTINCT ON (name COLLATE "C", language COLLATE "C") name, language, version, created_at
          FROM ${s}.templates
          ORDER BY name COLLATE "C", language COLLATE "C", version DESC`,
      ),

    deleteTemplate: (name, language) =>
      q(
        (p) => `DELETE FROM ${s}.templates WHERE name = ${p(name)}
          ${language === null ? '' : `AND language = ${p(language)}`}
          RETURNING version`,
      ),

    isTemplateConflict: (error) => (error as { code?: unknown }).code === UNIQUE_VIOLATION,
  }
}
