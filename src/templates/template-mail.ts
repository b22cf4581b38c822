import { describeValue, InvalidMessageError, TemplateNotFoundError } from '../errors.js'
import type { MailInput } from '../message/types.js'
import type { Store, StoredTemplate, TemplateRef } from '../store/store.js'
import type { CompiledTemplate, RenderedTemplate, TemplateCache } from './template-engine.js'
import { loadTemplateEngine } from './lazy-engine.js'
import { checkTemplateName, normaliseLanguage } from './template-names.js'

/**
 * A message made from a stored template: the template gives the subject and the body, the
 * caller the recipients (and anything else a message can have: attachments, headers, …).
 * Rendered once, at enqueue: the stored bytes are what is sent, and retries never render again.
 */
export type TemplateMailInput = Omit<
  MailInput,
  'subject' | 'text' | 'html' | 'watchHtml' | 'amp' | 'raw'
> & {
  /** The template's name. */
  template: string
  /** Its language (`de`, `de-AT`); falls back to the base language, then the configured default. */
  language?: string
  /** The values the template uses; every variable it uses must be there (strict). */
  context?: Record<string, unknown>
}

/** Fields a templated message takes from its template, so the caller may not give them. */
const FROM_TEMPLATE = ['subject', 'text', 'html', 'watchHtml', 'amp', 'raw'] as const

/** Does this message name a template (rather than carry its own subject and body)? */
export function isTemplateMail(mail: unknown): mail is TemplateMailInput {
  return typeof mail === 'object' && mail !== null && 'template' in mail
}

/** Settings of templated mail (the `templates` option). */
export interface TemplateMailSettings {
  defaultLanguage: string | null
  from: string | null
  inlineCss: boolean
}

/** A template found for a message: which one (the language actually used) and its content. */
export interface ResolvedTemplate {
  template: StoredTemplate
  ref: TemplateRef
}

/** Finds, compiles (once per version) and renders stored templates. */
export interface TemplateRenderer {
  /**
   * The latest version of `name` in `language`, else in its base language (`de` for `de-AT`),
   * else in the default language when one is configured. Without a language: the default
   * language, or the template's only one. Throws `TemplateNotFoundError` naming what exists.
   */
  resolve(name: unknown, language: unknown, version?: number): Promise<ResolvedTemplate>
  /** Renders a found template with `context` (HTML escaped, strict variables). */
  render(template: StoredTemplate, context: unknown): Promise<RenderedTemplate>
  /** A templated message as the plain message it renders to, and the template that made it. */
  toMail(input: TemplateMailInput): Promise<{ mail: MailInput; template: TemplateRef }>
}

export function createTemplateRenderer(
  store: Pick<Store, 'getTemplate' | 'templateVersions'>,
  settings: TemplateMailSettings,
): TemplateRenderer {
  // Versions never change once stored: a compiled version is good until evicted. The key has
  // the version's time too: a template removed and added again numbers from 1 again.
  let compiled: TemplateCache<CompiledTemplate> | null = null

  async function compiledOf(template: StoredTemplate): Promise<CompiledTemplate> {
    const engine = await loadTemplateEngine()
    compiled ??= engine.createTemplateCache<CompiledTemplate>(200)
    const key = engine.templateCacheKey(template)
    let found = compiled.get(key)
    if (!found) {
      found = engine.compileTemplate(template)
      compiled.set(key, found)
    }
    return found
  }

  async function resolve(
    nameGiven: unknown,
    language: unknown,
    version?: number,
  ): Promise<ResolvedTemplate> {
    const name = checkTemplateName(nameGiven, 'template')
    if (language !== undefined && language !== null && typeof language !== 'string') {
      throw new InvalidMessageError(
        'language',
        `\`language\` must be a language tag such as en or de-AT, got ${describeValue(language)}.`,
      )
    }
    const asked =
      typeof language === 'string' && language !== '' ? normaliseLanguage(language) : null
    const candidates: string[] = []
    if (asked) {
      candidates.push(asked)
      const base = asked.split('-')[0]!
      if (base !== asked) candidates.push(base)
    }
    if (settings.defaultLanguage && !candidates.includes(settings.defaultLanguage)) {
      candidates.push(settings.defaultLanguage)
    }
    for (const candidate of candidates) {
      const found = await store.getTemplate(name, candidate, version)
      if (found) return { template: found, ref: refOf(found) }
    }
    // Nothing yet: what does exist, to say so (and, with no language asked, its only one).
    const versions = await store.templateVersions(name)
    const languages = [...new Set(versions.map((v) => v.language))]
    if (languages.length === 0) {
      throw new TemplateNotFoundError(
        name,
        null,
        `No template named ${JSON.stringify(name)}. List them with \`outbox templates list\`, add one with \`outbox templates add\`.`,
      )
    }
    if (!asked && languages.length === 1 && !settings.defaultLanguage) {
      const only = await store.getTemplate(name, languages[0]!, version)
      if (only) return { template: only, ref: refOf(only) }
    }
    if (version !== undefined && asked && languages.includes(asked)) {
      throw new TemplateNotFoundError(
        name,
        asked,
        `Template ${JSON.stringify(name)} has no version ${version} in ${asked}.`,
      )
    }
    const tried = candidates.length > 0 ? ` (tried ${candidates.join(', ')})` : ''
    const hint = settings.defaultLanguage
      ? ''
      : '; or set `templates.defaultLanguage` to fall back to one'
    throw new TemplateNotFoundError(
      name,
      asked ?? '',
      asked
        ? `Template ${JSON.stringify(name)} is not in ${asked}${tried}: it is in ${languages.join(', ')}. Pass one of those as \`language\`${hint}.`
        : `Template ${JSON.stringify(name)} is in ${languages.join(', ')}: pass one of those as \`language\`${hint}.`,
    )
  }

  async function render(template: StoredTemplate, context: unknown): Promise<RenderedTemplate> {
    const engine = await loadTemplateEngine()
    return engine.renderTemplate(await compiledOf(template), context ?? {}, {
      inlineCss: settings.inlineCss,
    })
  }

  return {
    resolve,
    render,
    async toMail(input) {
      for (const field of FROM_TEMPLATE) {
        if (field in input && (input as Record<string, unknown>)[field] !== undefined) {
          throw new InvalidMessageError(
            field,
            `A message made from a template takes its ${field === 'subject' ? 'subject' : 'body'} from the template: leave out \`${field}\`, or send without \`template\`.`,
          )
        }
      }
      const { template: name, language, context, ...rest } = input
      const found = await resolve(name, language)
      const rendered = await render(found.template, context)
      const from = rest.from ?? settings.from ?? undefined
      if (from === undefined) {
        throw new InvalidMessageError(
          'from',
          'The message has no sender: set `from`, or `templates.from` for every templated message.',
        )
      }
      const mail: MailInput = {
        ...rest,
        from,
        subject: rendered.subject,
        text: rendered.text,
        ...(rendered.html !== null ? { html: rendered.html } : {}),
      }
      return { mail, template: found.ref }
    },
  }
}

function refOf(template: StoredTemplate): TemplateRef {
  return { name: template.name, language: template.language, version: template.version }
}
