import { Context, Liquid, Tag } from 'liquidjs'
import type { FS, LiquidOptions, TagToken, Template, TopLevelToken } from 'liquidjs'

import {
  describeValue,
  InvalidMessageError,
  TemplateRenderError,
  TemplateSyntaxError,
} from '../errors.js'
import type { StoredTemplate, TemplateContent } from '../store/store.js'
import { htmlToPlainText, inlineStyles, subjectLine } from './html-output.js'
import { createRenderTimeLimit } from './render-time-limit.js'
import { LANGUAGE_REGISTER, registerFormatFilters } from './template-filters.js'
import { normaliseLanguage } from './template-names.js'

/**
 * Outbox's templates: Liquid source per part (subject, HTML, text) and language, checked before
 * it is stored (`checkTemplate`), parsed once (`compileTemplate`, `createTemplateCache`) and
 * rendered with a caller's context (`renderTemplate`). Pure: nothing here reads the store or files.
 *
 * The Liquid set-up for templates written by operators and rendered with data from callers.
 *
 * - Strict: a variable missing from the context and an unknown filter are errors, never an empty
 *   string. `{% if coupon %}` and `{{ coupon | default: 'none' }}` may still ask for an optional
 *   variable (`lenientIf`); `{{ coupon }}` alone may not.
 * - Only the context's own properties are visible (`ownPropertyOnly`): no `constructor`, no prototype.
 * - No files: `include`, `render` and `layout` are refused when the template is parsed, and the
 *   engine's file system finds nothing, should some other path ever ask it. A template is one
 *   string per part, complete in itself.
 * - Limits, so that one template cannot stall a worker: {@link TEMPLATE_LIMITS}.
 * - The HTML part escapes every `{{ … }}` and `{% echo %}` (`outputEscape: 'escape'`).
 *   `{{ x | raw }}` (`raw` last) outputs `x` as HTML unescaped: for trusted values only, such as
 *   a snippet the operator controls, never text a customer typed. The subject and the text part
 *   are not escaped (they are not HTML); the subject is made one line when rendered.
 * - Filters for the rendering's language: `format_date`, `format_datetime`, `format_number`,
 *   `format_currency` (see `template-filters.ts`).
 */

/** The limits every template is parsed and rendered under. */
export const TEMPLATE_LIMITS = Object.freeze({
  /** Characters of Liquid source per part (1 MiB); the subject's source is held to 998. */
  partLength: 1024 * 1024,
  /** The subject's source, in characters: one header line's worth (RFC 5322 §2.1.1). */
  subjectLength: 998,
  /**
   * Milliseconds of CPU time one rendering (subject, HTML and text together) may take: CPU, not
   * wall-clock, so a busy machine does not refuse valid mail (`render-time-limit.ts`).
   */
  renderTime: 1000,
  /**
   * Liquid's allocation count for one rendering, in characters or elements: about 10 MB. It
   * counts what ranges and filters create, and so in the HTML part every escaped `{{ … }}`; not
   * the template's own text, nor `| raw` output.
   */
  memory: 10_000_000,
})

/** A file system that has no files: the second line of defence behind the refused tags. */
const NO_FILES: FS = {
  exists: async () => false,
  existsSync: () => false,
  readFile: async (file) => {
    throw new Error(`templates cannot read files (asked for ${JSON.stringify(file)})`)
  },
  readFileSync: (file) => {
    throw new Error(`templates cannot read files (asked for ${JSON.stringify(file)})`)
  },
  resolve: (_dir, file) => file,
  contains: async () => false,
  containsSync: () => false,
}

/** `include`, `render` and `layout`: refused at parse time, so `checkTemplate` reports them. */
class FileTag extends Tag {
  constructor(token: TagToken, remainTokens: TopLevelToken[], liquid: Liquid) {
    super(token, remainTokens, liquid)
    throw new Error(
      `{% ${token.name} %} is not available: a template cannot read other files; ` +
        'write the shared part into the template itself',
    )
  }

  *render(): Generator<never, void> {
    // Never reached: the constructor refuses the tag.
  }
}

function createEngine(options: LiquidOptions): Liquid {
  const engine = new Liquid({
    strictVariables: true,
    strictFilters: true,
    lenientIf: true,
    ownPropertyOnly: true,
    fs: NO_FILES,
    root: [],
    partials: [],
    layouts: [],
    relativeReference: false,
    // The built-in `date` filter: the same output on every server. `format_date` is the localised one.
    timezoneOffset: 0,
    locale: 'en-US',
    parseLimit: TEMPLATE_LIMITS.partLength,
    memoryLimit: TEMPLATE_LIMITS.memory,
    ...options,
  })
  for (const name of ['include', 'render', 'layout']) engine.registerTag(name, FileTag)
  registerFormatFilters(engine)
  return engine
}

/** The part a piece of Liquid source is: it decides the escaping. */
export type TemplatePart = 'subject' | 'html' | 'text'

// Escaping is decided when a template is parsed, so HTML and plain text need an engine each.
const htmlEngine = createEngine({ outputEscape: 'escape' })
const plainEngine = createEngine({})

/** The engine that parses and renders `part`. */
function engineFor(part: TemplatePart): Liquid {
  return part === 'html' ? htmlEngine : plainEngine
}

/**
 * The scope one part renders in: the caller's context, the language for the formatting filters,
 * and the limits. Pass the first part's scope as `shareLimitsWith` so that every part of one
 * rendering draws on one time and memory budget.
 */
function createRenderScope(
  engine: Liquid,
  context: object,
  language: string,
  shareLimitsWith?: Context,
): Context {
  const scope = new Context(
    context,
    engine.options,
    { sync: true },
    {
      liquid: engine,
      renderLimit:
        shareLimitsWith?.renderLimit ?? createRenderTimeLimit(TEMPLATE_LIMITS.renderTime),
      ...(shareLimitsWith && { memoryLimit: shareLimitsWith.memoryLimit }),
    },
  )
  scope.setRegister(LANGUAGE_REGISTER, language)
  return scope
}

// ---------------------------------------------------------------------------------------------
// Compiling

/** One language of a template as written, with its name: what `compileTemplate` takes. */
export interface TemplateSource extends TemplateContent {
  name: string
  language: string
}

/**
 * A template parsed once and ready to render any number of times (`renderTemplate`). Immutable;
 * safe to share and to cache (`createTemplateCache`).
 */
export interface CompiledTemplate {
  readonly name: string
  /** Normalised (`de-AT`): the language the formatting filters use. */
  readonly language: string
  /** The stored version it was compiled from; null for a template not (yet) stored. */
  readonly version: number | null
  /** When that version was stored; null for a template not (yet) stored. */
  readonly createdAt: Date | null
  /** The source; a blank HTML or text part is null. */
  readonly content: Readonly<TemplateContent>
}

interface ParsedParts {
  subject: Template[]
  html: Template[] | null
  text: Template[] | null
}

// The parsed parts stay out of the public object, so callers never depend on Liquid's types.
const parsedParts = new WeakMap<CompiledTemplate, ParsedParts>()

/** `Template "welcome" (de): message`: how messages name a template (when it has a name yet). */
function aboutTemplate(template: { name: string; language: string } | undefined, message: string) {
  return template
    ? `Template ${JSON.stringify(template.name)} (${template.language}): ${message}`
    : message[0]!.toUpperCase() + message.slice(1)
}

/** A Liquid error's own message, without the `, line:3, col:1` Liquid appends (we say it our way). */
export function liquidMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  return message.replace(/(?:, file:.*?)?, line:\d+, col:\d+$/, '')
}

/** The 1-based line and column a Liquid error points at, when it carries a token. */
function liquidPosition(error: unknown): { line: number | null; column: number | null } {
  const token = (error as { token?: { getPosition?: () => [number, number] } } | null)?.token
  if (typeof token?.getPosition !== 'function') return { line: null, column: null }
  const [line, column] = token.getPosition()
  return { line, column }
}

function atPosition(position: { line: number | null; column: number | null }): string {
  return position.line === null ? '' : ` at line ${position.line}, column ${position.column}`
}

function parsePart(
  template: { name: string; language: string } | undefined,
  part: TemplatePart,
  source: string,
): Template[] {
  try {
    return engineFor(part).parse(source)
  } catch (error) {
    const position = liquidPosition(error)
    throw new TemplateSyntaxError(
      part,
      aboutTemplate(
        template,
        `the ${part} part does not parse${atPosition(position)}: ${liquidMessage(error)}.`,
      ),
      position,
      { cause: error },
    )
  }
}

function blankToNull(part: string | null): string | null {
  return part === null || part.trim() === '' ? null : part
}

/**
 * Parses each part of a template once. A part that does not parse throws a
 * {@link TemplateSyntaxError}: `field` is the part (`subject`, `html`, `text`), `line` and
 * `column` are 1-based in that part, and the message names the template, language, part,
 * position and the fault. The content must pass the checks `checkTemplate` makes (the first
 * problem is thrown). Takes a stored version (`version` and `createdAt` are kept) or a source.
 */
export function compileTemplate(template: StoredTemplate | TemplateSource): CompiledTemplate {
  const language = normaliseLanguage(template.language)
  const label = { name: template.name, language }
  // The first problem is thrown from the report, so past this line the content is sound.
  const checked = contentProblems(template, label, (problem) => {
    throw problem
  })!
  const parts: ParsedParts = {
    subject: parsePart(label, 'subject', checked.subject),
    html: checked.html === null ? null : parsePart(label, 'html', checked.html),
    text: checked.text === null ? null : parsePart(label, 'text', checked.text),
  }
  const stored = 'version' in template && typeof template.version === 'number'
  const compiled: CompiledTemplate = Object.freeze({
    name: template.name,
    language,
    version: stored ? template.version : null,
    createdAt: stored ? template.createdAt : null,
    content: Object.freeze(checked),
  })
  parsedParts.set(compiled, parts)
  return compiled
}

/**
 * The checks of the parts' shapes and sizes, reporting each problem; the content with blank
 * parts as null, or null when there was a problem.
 */
function contentProblems(
  content: TemplateContent,
  template: { name: string; language: string } | undefined,
  report: (problem: InvalidMessageError) => void,
): TemplateContent | null {
  let ok = true
  const problem = (field: string, message: string) => {
    ok = false
    report(new InvalidMessageError(field, aboutTemplate(template, message)))
  }
  const subject: unknown = content.subject
  if (typeof subject !== 'string') {
    problem('subject', `\`subject\` must be Liquid source, got ${describeValue(subject)}.`)
  } else if (subject.trim() === '') {
    problem('subject', 'the subject is empty; every template needs one.')
  } else if (subject.length > TEMPLATE_LIMITS.subjectLength) {
    problem(
      'subject',
      `the subject is ${subject.length} characters long; it may be ${TEMPLATE_LIMITS.subjectLength} at most.`,
    )
  }
  let given = 0
  for (const part of ['html', 'text'] as const) {
    const value: unknown = content[part]
    if (value === null || value === undefined) continue
    if (typeof value !== 'string') {
      given++
      problem(part, `\`${part}\` must be Liquid source or null, got ${describeValue(value)}.`)
    } else if (value.length > TEMPLATE_LIMITS.partLength) {
      given++
      problem(
        part,
        `the ${part} part is ${value.length} characters long; it may be ${TEMPLATE_LIMITS.partLength} (1 MiB) at most.`,
      )
    } else if (value.trim() !== '') {
      given++
    }
  }
  if (given === 0) problem('html', 'there is neither an HTML nor a text part: give at least one.')
  if (!ok) return null
  return {
    subject: content.subject,
    html: blankToNull(content.html ?? null),
    text: blankToNull(content.text ?? null),
  }
}

/**
 * Every reason `content` may not be stored, in the order of its fields: the subject (Liquid
 * source, not blank, at most 998 characters), an HTML or a text part (at least one, a blank one
 * counting as none; 1 MiB each at most), and each part's syntax. [] when it may be stored. Each
 * problem is an {@link InvalidMessageError} naming its field (`subject`, `html`, `text`), a
 * {@link TemplateSyntaxError} with line and column for a part that does not parse. `template`
 * (name and language) only makes the messages name it; check those with `checkTemplateName`
 * and `normaliseLanguage`.
 */
export function listTemplateProblems(
  content: TemplateContent,
  template?: { name: string; language: string },
): InvalidMessageError[] {
  const problems: InvalidMessageError[] = []
  const checked = contentProblems(content, template, (problem) => problems.push(problem))
  // The syntax of each part that is well-formed so far, so that one run reports every problem.
  for (const part of ['subject', 'html', 'text'] as const) {
    const source: unknown = checked ? checked[part] : content[part]
    if (typeof source !== 'string' || source.trim() === '') continue
    if (problems.some((p) => p.field === part)) continue
    try {
      parsePart(template, part, source)
    } catch (error) {
      if (!(error instanceof InvalidMessageError)) throw error
      problems.push(error)
    }
  }
  return problems
}

/**
 * Checks a template's content before it is stored (see {@link listTemplateProblems}) and returns
 * the content to store: a blank HTML or text part becomes null. Throws the first problem.
 */
export function checkTemplate(
  content: TemplateContent,
  template?: { name: string; language: string },
): TemplateContent {
  const [first] = listTemplateProblems(content, template)
  if (first) throw first
  return {
    subject: content.subject,
    html: blankToNull(content.html ?? null),
    text: blankToNull(content.text ?? null),
  }
}

// ---------------------------------------------------------------------------------------------
// Rendering

/** Options of {@link renderTemplate}. */
export interface RenderTemplateOptions {
  /**
   * Move the CSS of the HTML's `<style>` elements into `style` attributes (juice), for mail
   * clients that ignore `<style>`. Only the document's own CSS: nothing is fetched.
   * @default false
   */
  inlineCss?: boolean
}

/** A rendered template: the message's subject and body. */
export interface RenderedTemplate {
  /** One line: line breaks and other control characters became spaces, the ends trimmed. */
  subject: string
  /** The HTML part (context values escaped, `| raw` ones not), or null for a text-only template. */
  html: string | null
  /** The text part as rendered, or generated from the HTML when the template has none. */
  text: string
}

function isPlainObject(value: unknown): value is object {
  if (typeof value !== 'object' || value === null) return false
  const prototype: unknown = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

function renderError(compiled: CompiledTemplate, part: TemplatePart, error: unknown): Error {
  const position = liquidPosition(error)
  const where = `Template ${JSON.stringify(compiled.name)} (${compiled.language}), ${part} part${atPosition(position)}`
  const message = liquidMessage(error)
  if (error instanceof Error && error.name === 'UndefinedVariableError') {
    const original = (error as { originalError?: { variableName?: unknown } }).originalError
    const variable =
      typeof original?.variableName === 'string'
        ? original.variableName
        : (/undefined variable: (.+)$/.exec(message)?.[1] ?? 'unknown')
    return new TemplateRenderError(
      `context.${variable}`,
      `${where}: \`${variable}\` is not in the context. Pass it in the context, or make it ` +
        `optional in the template: {% if ${variable} %}…{% endif %} or {{ ${variable} | default: '' }}.`,
      { cause: error },
    )
  }
  if (/limit exceeded$/.test(message)) {
    return new TemplateRenderError(
      part,
      `${where}: ${message}: one rendering may take ${TEMPLATE_LIMITS.renderTime} ms of CPU and allocate ` +
        'about 10 MB. Is a loop running over far more than it should?',
      { cause: error },
    )
  }
  return new TemplateRenderError(part, `${where}: ${message}.`, { cause: error })
}

/**
 * Renders a compiled template with `context`, a plain object of the variables it uses (anything
 * else: an {@link InvalidMessageError} for `context`). Synchronous: at most
 * {@link TEMPLATE_LIMITS}`.renderTime` for all parts together.
 *
 * A variable missing from the context throws a {@link TemplateRenderError} with `field`
 * `context.<path>` (`context.user.name`; for a loop variable, the path inside the loop); a
 * failing filter or an exceeded limit one with `field` the part. The subject comes out as one
 * line (no CR or LF can reach the header); the HTML part has every `{{ … }}` escaped unless it
 * ends in `| raw`; without a text part, the text is made from the HTML.
 */
export function renderTemplate(
  compiled: CompiledTemplate,
  context: unknown,
  options: RenderTemplateOptions = {},
): RenderedTemplate {
  const parts = parsedParts.get(compiled)
  if (!parts) {
    throw new TypeError('Not a compiled template: pass what compileTemplate() returned.')
  }
  if (!isPlainObject(context)) {
    throw new InvalidMessageError(
      'context',
      `\`context\` must be an object of the template's variables, such as {"name": "Ann"}, got ${describeValue(context)}.`,
    )
  }
  let first: Context | undefined
  const render = (part: TemplatePart, parsed: Template[]): string => {
    const engine = engineFor(part)
    const scope = createRenderScope(engine, context, compiled.language, first)
    first ??= scope
    try {
      return String(engine.renderSync(parsed, scope))
    } catch (error) {
      throw renderError(compiled, part, error)
    }
  }

  const subject = subjectLine(render('subject', parts.subject))
  if (subject === '') {
    throw new TemplateRenderError(
      'subject',
      aboutTemplate(compiled, 'the subject rendered empty; give the variables it uses a value.'),
    )
  }
  const html = parts.html === null ? null : render('html', parts.html)
  const text = parts.text === null ? htmlToPlainText(html ?? '') : render('text', parts.text)
  let finalHtml = html
  if (html !== null && options.inlineCss) {
    try {
      finalHtml = inlineStyles(html)
    } catch (error) {
      throw new TemplateRenderError(
        'html',
        aboutTemplate(
          compiled,
          `the HTML part's CSS could not be inlined: ${liquidMessage(error)}.`,
        ),
        { cause: error },
      )
    }
  }
  return { subject, html: finalHtml, text }
}

// ---------------------------------------------------------------------------------------------
// Caching

/** A small least-recently-used cache, for compiled templates (or anything else keyed by a string). */
export interface TemplateCache<T = CompiledTemplate> {
  get(key: string): T | undefined
  /** Adds or replaces; the least recently used entry goes when the cache is full. */
  set(key: string, value: T): void
  delete(key: string): boolean
  clear(): void
  readonly size: number
}

/**
 * The key of one stored version in a {@link TemplateCache}: name, language, version and, when
 * known, when it was stored, so that a template deleted and added again (its versions counting
 * from 1 again) is never served from an old entry.
 */
export function templateCacheKey(template: {
  name: string
  language: string
  version: number | null
  createdAt?: Date | null
}): string {
  return [
    template.name,
    template.language,
    template.version ?? '',
    template.createdAt?.getTime() ?? '',
  ].join('\u0000')
}

/**
 * A least-recently-used cache of at most `max` entries. Stored versions never change, so a
 * compiled version is good until it is evicted: key it with {@link templateCacheKey}.
 */
export function createTemplateCache<T = CompiledTemplate>(max = 200): TemplateCache<T> {
  if (!Number.isInteger(max) || max < 1) {
    throw new RangeError(
      `Expected \`max\` to be a whole number from 1 up, got ${describeValue(max)}.`,
    )
  }
  // A Map keeps insertion order: re-inserting on use makes its first key the least recently used.
  const entries = new Map<string, T>()
  return {
    get(key) {
      if (!entries.has(key)) return undefined
      const value = entries.get(key)!
      entries.delete(key)
      entries.set(key, value)
      return value
    },
    set(key, value) {
      entries.delete(key)
      entries.set(key, value)
      if (entries.size > max) entries.delete(entries.keys().next().value!)
    },
    delete: (key) => entries.delete(key),
    clear: () => entries.clear(),
    get size() {
      return entries.size
    },
  }
}
