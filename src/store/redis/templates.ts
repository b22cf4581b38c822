import type { Redis } from 'ioredis'
import type { StoredTemplate, TemplateMethods, TemplateRef } from '../store.js'
import type { ShapingContext } from './shaping.js'

/** A version as `tplv:<name>` holds it (see scripts/put-template.lua). */
function toTemplate(name: string, language: string, version: number, json: string): StoredTemplate {
  const v = JSON.parse(json) as Record<string, unknown>
  const part = (value: unknown) => (typeof value === 'string' ? value : null)
  return {
    name,
    language,
    version,
    subject: typeof v.subject === 'string' ? v.subject : '',
    html: part(v.html),
    text: part(v.text),
    createdAt: new Date(Number(v.t)),
  }
}

/** Byte order, as the SQL stores sort names and languages. */
const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b))

/** `<version>:<rest>` split at its first colon. */
function splitVersion(field: string): [number, string] {
  const colon = field.indexOf(':')
  return [Number(field.slice(0, colon)), field.slice(colon + 1)]
}

/** The message hash's `template` field (JSON text, absent for none) as `MessageDetail.template`. */
export function templateRefOf(field: string | undefined): TemplateRef | null {
  if (!field) return null
  const ref = JSON.parse(field) as Partial<TemplateRef>
  if (typeof ref.name !== 'string' || typeof ref.language !== 'string') return null
  return { name: ref.name, language: ref.language, version: Number(ref.version) }
}

/**
 * Stored templates, each change one script (see the `*-template*.lua` scripts): a new version
 * is read and written in one, so concurrent writers never take the same number.
 */
export function createTemplateMethods({
  run,
  op,
  write,
  client,
  prefix,
}: ShapingContext & { client: Redis; prefix: string }): TemplateMethods {
  return {
    putTemplate: (name, language, content) =>
      op(async () => {
        const json = JSON.stringify({
          subject: content.subject,
          html: content.html ?? null,
          text: content.text ?? null,
        })
        const [created, version, stored] = (await write(() =>
          run('put-template', [name, language, json]),
        )) as [number, number, string]
        return {
          template: toTemplate(name, language, Number(version), stored),
          created: Number(created) === 1,
        }
      }),

    getTemplate: (name, language, version) =>
      op(async () => {
        if (version !== undefined && !(Number.isSafeInteger(version) && version > 0)) return null
        const found = (await run('get-template', [
          name,
          language,
          version === undefined ? '' : String(version),
        ])) as [number, string] | null
        return found ? toTemplate(name, language, Number(found[0]), found[1]) : null
      }),

    templateVersions: (name) =>
      op(async () => {
        // One hash holds every version of the template: read at once.
        const all = await client.hgetall(`${prefix}tplv:${name}`)
        return Object.entries(all)
          .map(([field, json]) => {
            const [version, language] = splitVersion(field)
            return toTemplate(name, language, version, json)
          })
          .sort((a, b) => byBytes(a.language, b.language) || b.version - a.version)
      }),

    listTemplates: () =>
      op(async () => {
        const rows = (await run('list-templates', [])) as [string, string[]][]
        return rows
          .map(([name, heads]) => {
            const languages: { language: string; version: number; updatedAt: Date }[] = []
            for (let i = 0; i + 1 < heads.length; i += 2) {
              const [version, at] = splitVersion(heads[i + 1]!)
              languages.push({ language: heads[i]!, version, updatedAt: new Date(Number(at)) })
            }
            languages.sort((a, b) => byBytes(a.language, b.language))
            return { name: String(name), languages }
          })
          .filter((t) => t.languages.length > 0)
      }),

    removeTemplate: (name, language) =>
      op(async () => Number(await write(() => run('remove-template', [name, language ?? ''])))),
  }
}
