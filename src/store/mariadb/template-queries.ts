import { queryBuilder } from '../sql/query.js'
import type { TemplateSql } from '../sql/template-dialect.js'
import { NOW, lockedChange } from './sql-parts.js'

/**
 * The stored template statements of the MariaDB/MySQL store, for one table prefix (see
 * sql/templates.ts). No lock before a new version: under READ COMMITTED a locking read of a
 * language with no version yet locks nothing, so of two writers that chose the same version
 * the primary key refuses the second, and the engine runs it again.
 */

const q = queryBuilder('?')
const TEMPLATE = 'name, language, version, subject, html, text, created_at'
/** ER_DUP_ENTRY: the version was taken meanwhile; ER_LOCK_DEADLOCK: two such writers collided. */
const CONFLICTS = new Set([1062, 1213])

export function mariadbTemplates(prefix: string): TemplateSql {
  const T = `${prefix}templates`
  const of = (name: string, language: string | null) => (p: (v: unknown) => string) =>
    `name = ${p(name)}${language === null ? '' : ` AND language = ${p(language)}`}`

  return {
    templateRow: ({ name, language, version }) =>
      q(
        (p) => `SELECT ${TEMPLATE} FROM ${T}
          WHERE ${of(name, language)(p)} ${version === null ? '' : `AND version = ${p(version)}`}
          ORDER BY version DESC LIMIT 1`,
      ),

    insertTemplate: (t) =>
      q(
        (p) => `INSERT INTO ${T} (${TEMPLATE})
          VALUES (${p(t.name)}, ${p(t.language)}, ${p(t.version)}, ${p(t.subject)}, ${p(t.html)},
            ${p(t.text)}, ${NOW})`,
      ),

    templateRows: (name) =>
      q(
        (p) => `SELECT ${TEMPLATE} FROM ${T} WHERE name = ${p(name)}
          ORDER BY language, version DESC`,
      ),

    templateHeads: () =>
      q(
        () => `SELECT t.name, t.language, t.version, t.created_at FROM ${T} t
          WHERE t.version = (SELECT MAX(x.version) FROM ${T} x
            WHERE x.name = t.name AND x.language = t.language)
          ORDER BY t.name, t.language`,
      ),

    // No DELETE … RETURNING: the versions are locked, then exactly those deleted (one row each
    // is the result; `id` is `<version>:<language>`), so a version stored meanwhile is neither deleted nor counted.
    deleteTemplate: (name, language) =>
      lockedChange(
        q(
          (p) => `SELECT CONCAT(version, ':', language) AS id FROM ${T}
            WHERE ${of(name, language)(p)} ORDER BY language, version FOR UPDATE`,
        ),
        (ids) => ({
          changes: [
            q((p) => {
              const pairs = ids.map((id) => {
                const colon = id.indexOf(':')
                return `(${p(id.slice(colon + 1))}, ${p(Number(id.slice(0, colon)))})`
              })
              return `DELETE FROM ${T} WHERE name = ${p(name)}
                AND (language, version) IN (${pairs.join(', ')})`
            }),
          ],
        }),
      ),

    isTemplateConflict: (error) => CONFLICTS.has((error as { errno?: unknown }).errno as number),
  }
}
