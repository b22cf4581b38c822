import type {
  StoredTemplate,
  TemplateContent,
  TemplateMethods,
  TemplateRef,
  TemplateSummary,
} from '../store.js'
import type { RowCodec } from './dialect.js'
import type { Row, SqlDriver } from './driver.js'
import type { TemplateSql } from './template-dialect.js'

/**
 * Most times a new version is tried when concurrent writers of the same language took the
 * version it chose (each round one of them wins, so this is far more than a burst needs).
 */
const PUT_ATTEMPTS = 50

/** A text column as a string (a driver may return some as bytes), or null. */
function textOf(value: unknown): string | null {
  if (value === null || value === undefined) return null
  if (Buffer.isBuffer(value)) return value.toString('utf8')
  return typeof value === 'string' ? value : JSON.stringify(value)
}

/** Whether the error or any of its causes is a conflict between concurrent writers. */
function isConflict(dialect: TemplateSql, error: unknown): boolean {
  for (let e = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (dialect.isTemplateConflict(e)) return true
  }
  return false
}

/** The `template` column of a message row, as `MessageDetail.template`. */
export function templateRefOf(codec: RowCodec, value: unknown): TemplateRef | null {
  if (value === null || value === undefined) return null
  const ref = codec.json<Partial<TemplateRef> | null>(value)
  if (!ref || typeof ref.name !== 'string' || typeof ref.language !== 'string') return null
  return { name: ref.name, language: ref.language, version: Number(ref.version) }
}

/**
 * Stored templates on a SQL store: rows of the `templates` table, a new version of a language
 * read and written in one transaction. `op` is the engine's wrapper of public operations.
 */
export function createTemplates(options: {
  driver: SqlDriver
  dialect: TemplateSql & { readonly codec: RowCodec }
  op: <T>(work: () => Promise<T>) => Promise<T>
}): TemplateMethods {
  const { driver, dialect, op } = options
  const { codec } = dialect

  const toTemplate = (row: Row): StoredTemplate => ({
    name: String(textOf(row.name)),
    language: String(textOf(row.language)),
    version: Number(row.version),
    subject: textOf(row.subject) ?? '',
    html: textOf(row.html),
    text: textOf(row.text),
    createdAt: new Date(codec.time(row.created_at) ?? 0),
  })

  const sameContent = (stored: StoredTemplate, content: TemplateContent): boolean =>
    stored.subject === content.subject &&
    stored.html === (content.html ?? null) &&
    stored.text === (content.text ?? null)

  /** One try: the latest version read and the next one written in one transaction. */
  const putOnce = (name: string, language: string, content: TemplateContent) =>
    driver.transaction(async (tx) => {
      for (const lock of dialect.lockTemplate?.(name, language) ?? []) await tx.query(lock)
      const [row] = await tx.query(dialect.templateRow({ name, language, version: null }))
      const latest = row ? toTemplate(row) : null
      if (latest && sameContent(latest, content)) return { template: latest, created: false }
      const version = latest ? latest.version + 1 : 1
      await tx.query(
        dialect.insertTemplate({
          name,
          language,
          version,
          subject: content.subject,
          html: content.html ?? null,
          text: content.text ?? null,
        }),
      )
      const [stored] = await tx.query(dialect.templateRow({ name, language, version }))
      return { template: toTemplate(stored!), created: true }
    })

  return {
    putTemplate: (name, language, content) =>
      op(async () => {
        for (let attempt = 1; ; attempt++) {
          try {
            return await putOnce(name, language, content)
          } catch (error) {
            // Another writer stored this version first: read its latest again and go on.
            if (attempt >= PUT_ATTEMPTS || !isConflict(dialect, error)) throw error
            await new Promise((resolve) => setTimeout(resolve, Math.random() * 2 * attempt))
          }
        }
      }),

    getTemplate: (name, language, version) =>
      op(async () => {
        if (version !== undefined && !(Number.isSafeInteger(version) && version > 0)) return null
        const [row] = await driver.query(
          dialect.templateRow({ name, language, version: version ?? null }),
        )
        return row ? toTemplate(row) : null
      }),

    templateVersions: (name) =>
      op(async () => (await driver.query(dialect.templateRows(name))).map(toTemplate)),

    listTemplates: () =>
      op(async () => {
        const out: TemplateSummary[] = []
        for (const row of await driver.query(dialect.templateHeads())) {
          const name = String(textOf(row.name))
          let summary = out.at(-1)
          if (summary?.name !== name) {
            summary = { name, languages: [] }
            out.push(summary)
          }
          summary.languages.push({
            language: String(textOf(row.language)),
            version: Number(row.version),
            updatedAt: new Date(codec.time(row.created_at) ?? 0),
          })
        }
        return out
      }),

    removeTemplate: (name, language) =>
      op(async () => (await driver.write(dialect.deleteTemplate(name, language ?? null))).length),
  }
}
