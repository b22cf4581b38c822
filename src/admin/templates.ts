import { describeValue, InvalidMessageError, TemplateNotFoundError } from '../errors.js'
import type { Store, StoredTemplate, TemplateContent, TemplateSummary } from '../store/store.js'
import type { RenderedTemplate } from '../templates/template-engine.js'
import { loadTemplateEngine, loadTemplateFolder } from '../templates/lazy-engine.js'
import type { TemplateRenderer } from '../templates/template-mail.js'
import { checkTemplateName, normaliseLanguage } from '../templates/template-names.js'

/** A template with every language and every version kept, newest first. */
export interface TemplateDetail {
  name: string
  languages: { language: string; versions: StoredTemplate[] }[]
}

/** What `sync` did, as `name.language` entries. */
export interface TemplateSyncResult {
  /** New templates or languages (version 1). */
  added: string[]
  /** A new version, the folder's content differing from the latest stored. */
  updated: string[]
  /** The same as the latest stored: nothing written. */
  unchanged: string[]
  /** Only with `prune`: languages in the store but not in the folder, deleted. */
  removed: string[]
}

/** A rendering, and which version made it. */
export interface TemplateRendering extends RenderedTemplate {
  name: string
  language: string
  version: number
}

/**
 * Stored templates as operators manage them (CLI, HTTP API, dashboard). Content is checked
 * (names, language, syntax, sizes) before anything is stored: bad input is a typed error
 * naming the field, and nothing is stored.
 */
export interface TemplateAdmin {
  /** Every template by name, with each language's latest version. */
  list(): Promise<TemplateSummary[]>
  /** Every language and version of one template. Throws `TemplateNotFoundError`. */
  get(name: string): Promise<TemplateDetail>
  /** One language's latest version (or `version`). Throws `TemplateNotFoundError`. */
  show(name: string, language: string, version?: number): Promise<StoredTemplate>
  /** Stores a new version of one language (nothing when the content is the latest's). */
  put(
    name: string,
    language: string,
    content: TemplateContent,
  ): Promise<{ template: StoredTemplate; created: boolean }>
  /** Deletes a template, or one language of it; returns the versions deleted. Throws `TemplateNotFoundError`. */
  remove(name: string, language?: string): Promise<number>
  /**
   * Renders a stored template with `context`, as `send()` would (language fallback included),
   * or, with `content`, the given unsaved content (a preview while editing).
   */
  render(request: {
    name: string
    language?: string
    version?: number
    context?: unknown
    content?: TemplateContent
  }): Promise<TemplateRendering>
  /**
   * Makes the store hold what a folder holds (`welcome.de.liquid.html`, `….txt`, `….subject`):
   * a new version for each language that differs. Every file is checked first: one bad file
   * and nothing is stored. `prune` also deletes the languages the folder does not have.
   */
  sync(dir: string, options?: { prune?: boolean }): Promise<TemplateSyncResult>
}

export function createTemplateAdmin(store: Store, renderer: TemplateRenderer): TemplateAdmin {
  async function detail(name: string): Promise<TemplateDetail> {
    const versions = await store.templateVersions(name)
    if (versions.length === 0) throw notFound(name)
    const languages = new Map<string, StoredTemplate[]>()
    for (const v of versions) {
      const list = languages.get(v.language) ?? []
      list.push(v)
      languages.set(v.language, list)
    }
    return {
      name,
      languages: [...languages].map(([language, list]) => ({
        language,
        versions: list.sort((a, b) => b.version - a.version),
      })),
    }
  }

  async function put(name: string, language: string, content: TemplateContent) {
    checkTemplateName(name)
    const lang = languageOf(language)
    // Names, sizes and syntax: a template that does not parse is never stored.
    const { checkTemplate } = await loadTemplateEngine()
    const checked = checkTemplate(contentOf(content), { name, language: lang })
    return store.putTemplate(name, lang, checked)
  }

  return {
    list: () => store.listTemplates(),
    get: detail,

    async show(name, language, version) {
      const lang = languageOf(language)
      const found = await store.getTemplate(name, lang, version)
      if (found) return found
      const all = await store.templateVersions(name)
      if (all.length === 0) throw notFound(name)
      const languages = [...new Set(all.map((v) => v.language))]
      throw new TemplateNotFoundError(
        name,
        lang,
        version !== undefined && languages.includes(lang)
          ? `Template ${JSON.stringify(name)} has no version ${version} in ${lang}.`
          : `Template ${JSON.stringify(name)} is not in ${lang}: it is in ${languages.join(', ')}.`,
      )
    },

    put,

    async remove(name, language) {
      const lang = language === undefined ? undefined : languageOf(language)
      const removed = await store.removeTemplate(name, lang)
      if (removed === 0) {
        if (lang === undefined) throw notFound(name)
        throw new TemplateNotFoundError(
          name,
          lang,
          `Template ${JSON.stringify(name)} has no language ${lang}; nothing was deleted.`,
        )
      }
      return removed
    },

    async render({ name, language, version, context, content }) {
      if (content) {
        checkTemplateName(name)
        const lang = languageOf(language ?? 'en')
        const { checkTemplate, compileTemplate, renderTemplate } = await loadTemplateEngine()
        const checked = checkTemplate(contentOf(content), { name, language: lang })
        const compiled = compileTemplate({ ...checked, name, language: lang })
        return { ...renderTemplate(compiled, context ?? {}, {}), name, language: lang, version: 0 }
      }
      const found = await renderer.resolve(name, language, version)
      return { ...(await renderer.render(found.template, context)), ...found.ref }
    },

    async sync(dir, options = {}) {
      // Every file is checked (and parses) before the first is stored: one bad file leaves the
      // store as it was.
      const files = await (await loadTemplateFolder()).readTemplateFolder(dir)
      const result: TemplateSyncResult = { added: [], updated: [], unchanged: [], removed: [] }
      for (const f of files) {
        const { template, created } = await put(f.name, f.language, f.content)
        const label = `${f.name}.${f.language}`
        if (!created) result.unchanged.push(label)
        else if (template.version === 1) result.added.push(label)
        else result.updated.push(label)
      }
      if (options.prune) {
        const wanted = new Set(files.map((f) => `${f.name}\u0000${f.language}`))
        for (const t of await store.listTemplates()) {
          for (const { language } of t.languages) {
            if (wanted.has(`${t.name}\u0000${language}`)) continue
            await store.removeTemplate(t.name, language)
            result.removed.push(`${t.name}.${language}`)
          }
        }
      }
      return result
    },
  }
}

function notFound(name: string): TemplateNotFoundError {
  return new TemplateNotFoundError(
    name,
    null,
    `No template named ${JSON.stringify(name)}. List them with \`outbox templates list\`.`,
  )
}

function languageOf(language: unknown): string {
  if (typeof language !== 'string' || language.trim() === '') {
    throw new InvalidMessageError(
      'language',
      `\`language\` must be a language tag such as en or de-AT, got ${describeValue(language)}.`,
    )
  }
  return normaliseLanguage(language)
}

/** The three parts, whatever else the caller's object holds (a JSON body, a folder entry). */
function contentOf(content: unknown): TemplateContent {
  if (typeof content !== 'object' || content === null) {
    throw new InvalidMessageError(
      'template',
      `A template is \`{ subject, html, text }\`, got ${describeValue(content)}.`,
    )
  }
  const c = content as Record<string, unknown>
  return {
    subject: c.subject as string,
    html: (c.html ?? null) as string | null,
    text: (c.text ?? null) as string | null,
  }
}
