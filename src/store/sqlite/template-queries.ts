import { queryBuilder } from '../sql/query.js'
import type { TemplateSql } from '../sql/template-dialect.js'

/**
 * The stored template statements of the SQLite store (see sql/templates.ts). A new version
 * needs no lock: its transaction is the only writer (BEGIN IMMEDIATE, across processes too).
 */

const q = queryBuilder('?')
const now = () => Date.now()
const TEMPLATE = 'name, language, version, subject, html, text, created_at'

export const sqliteTemplates: TemplateSql = {
  templateRow: ({ name, language, version }) =>
    q(
      (p) => `SELECT ${TEMPLATE} FROM templates
        WHERE name = ${p(name)} AND language = ${p(language)}
          ${version === null ? '' : `AND version = ${p(version)}`}
        ORDER BY version DESC LIMIT 1`,
    ),

  insertTemplate: (t) =>
    q(
      (p) => `INSERT INTO templates (${TEMPLATE})
        VALUES (${[t.name, t.language, t.version, t.subject, t.html, t.text, now()].map(p).join(', ')})`,
    ),

  templateRows: (name) =>
    q(
      (p) => `SELECT ${TEMPLATE} FROM templates WHERE name = ${p(name)}
        ORDER BY language, version DESC`,
    ),

  templateHeads: () =>
    q(
      () => `SELECT t.name, t.language, t.version, t.created_at FROM templates t
        WHERE t.version = (SELECT max(version) FROM templates x
          WHERE x.name = t.name AND x.language = t.language)
        ORDER BY t.name, t.language`,
    ),

  deleteTemplate: (name, language) =>
    q(
      (p) => `DELETE FROM templates WHERE name = ${p(name)}
        ${language === null ? '' : `AND language = ${p(language)}`}
        RETURNING version`,
    ),

  isTemplateConflict: (error) =>
    (error as { code?: unknown }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY',
}
