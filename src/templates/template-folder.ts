import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'

import { InvalidMessageError, TemplateSyntaxError } from '../errors.js'
import type { TemplateContent } from '../store/store.js'
import { liquidMessage, listTemplateProblems, TEMPLATE_LIMITS } from './template-engine.js'
import { checkTemplateName, normaliseLanguage } from './template-names.js'

/**
 * A folder of templates, one file per part and language:
 *
 *     welcome.en.liquid.subject   welcome.en.liquid.html   welcome.en.liquid.txt
 *     welcome.de.subject          welcome.de.html          (`.liquid` may be left out)
 *
 * The name may hold dots (`order.shipped.de.html`): the language is the last part before the
 * extension (and `.liquid`). Dotfiles and `README*` are skipped; anything else that does not fit
 * is a problem, as are subfolders (only the top level is read).
 */

/** Which part each file extension gives. */
const EXTENSIONS = { subject: 'subject', html: 'html', txt: 'text' } as const
type Part = (typeof EXTENSIONS)[keyof typeof EXTENSIONS]

/** One language of a template read from a folder. */
export interface TemplateFolderEntry {
  name: string
  /** Normalised: `welcome.de_AT.html` gives `de-AT`. */
  language: string
  /** The subject without the file's trailing line break; a part without a file is null. */
  content: TemplateContent
  /** The file each part came from, by its name in the folder. */
  files: { subject: string; html: string | null; text: string | null }
}

/** One thing wrong with a template folder, in one line: see {@link formatFolderProblem}. */
export interface TemplateFolderProblem {
  /** The file's name in the folder. */
  file: string
  /** 1-based, for a syntax error. */
  line: number | null
  column: number | null
  message: string
}

/** `welcome.de.html:3:1: tag {% if x %} not closed`. */
export function formatFolderProblem(problem: TemplateFolderProblem): string {
  const position =
    problem.line === null
      ? ''
      : `:${problem.line}${problem.column === null ? '' : `:${problem.column}`}`
  return `${problem.file}${position}: ${problem.message}`
}

interface FileName {
  name: string
  language: string
  part: Part
}

/** What a file name says, or why it says nothing usable. */
function parseFileName(file: string): FileName | string {
  const expected =
    'name template files NAME.LANGUAGE.liquid.subject, .html or .txt (`.liquid` may be left out)'
  const segments = file.split('.')
  const extension = segments.pop()!
  if (!(extension in EXTENSIONS) || segments.length < 2) return `does not fit: ${expected}`
  if (segments.length > 2 && segments[segments.length - 1] === 'liquid') segments.pop()
  const language = segments.pop()!
  const name = segments.join('.')
  let normalLanguage: string
  try {
    normalLanguage = normaliseLanguage(language)
  } catch {
    return `${JSON.stringify(language)} is not a language tag such as en, de or de-AT; ${expected}`
  }
  try {
    checkTemplateName(name)
  } catch {
    return (
      `${JSON.stringify(name)} is not a template name: a letter or digit, then letters, ` +
      'digits, `.`, `_` or `-` (100 at most, not ending in `.`)'
    )
  }
  return { name, language: normalLanguage, part: EXTENSIONS[extension as keyof typeof EXTENSIONS] }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true })

interface Group {
  name: string
  language: string
  sources: Partial<Record<Part, string>>
  files: Partial<Record<Part, string>>
}

/**
 * Reads a template folder without stopping at the first problem: every template that was read,
 * and every problem found (file names that do not fit, two files for one part, a missing
 * subject, a part that is too large, not UTF-8 or does not parse, with line and column).
 * Templates with a problem are left out. Nothing is written.
 */
export async function scanTemplateFolder(
  dir: string,
): Promise<{ templates: TemplateFolderEntry[]; problems: TemplateFolderProblem[] }> {
  let names: string[]
  try {
    names = (await readdir(dir)).sort()
  } catch (error) {
    throw new InvalidMessageError(
      'folder',
      `Cannot read the template folder ${dir}: ${(error as Error).message}.`,
      { cause: error },
    )
  }
  const problems: TemplateFolderProblem[] = []
  const problem = (
    file: string,
    message: string,
    line: number | null = null,
    column: number | null = null,
  ) => problems.push({ file, line, column, message })
  const groups = new Map<string, Group>()

  for (const file of names) {
    if (file.startsWith('.') || /^readme/i.test(file)) continue
    const parsed = parseFileName(file)
    if (typeof parsed === 'string') {
      problem(file, parsed)
      continue
    }
    const path = join(dir, file)
    const info = await stat(path).catch((error: Error) => error)
    if (info instanceof Error) {
      problem(file, `cannot read it: ${info.message}`)
      continue
    }
    if (!info.isFile()) {
      problem(file, 'is not a file: templates are read from the top level of the folder only')
      continue
    }
    // UTF-8 takes at most 4 bytes a character: anything larger cannot be within the limit.
    if (info.size > TEMPLATE_LIMITS.partLength * 4) {
      problem(
        file,
        `is ${info.size} bytes; a part may be ${TEMPLATE_LIMITS.partLength} characters at most`,
      )
      continue
    }
    let source: string
    try {
      source = UTF8.decode(await readFile(path))
    } catch (error) {
      problem(
        file,
        error instanceof TypeError
          ? 'is not UTF-8 text: save it as UTF-8'
          : `cannot read it: ${(error as Error).message}`,
      )
      continue
    }
    const key = `${parsed.name}\u0000${parsed.language}`
    let group = groups.get(key)
    if (!group) {
      group = { name: parsed.name, language: parsed.language, sources: {}, files: {} }
      groups.set(key, group)
    }
    const earlier = group.files[parsed.part]
    if (earlier !== undefined) {
      problem(
        file,
        `gives the ${parsed.part} part of ${parsed.name} (${parsed.language}), as ${earlier} does: keep one of them`,
      )
      continue
    }
    group.files[parsed.part] = file
    group.sources[parsed.part] = parsed.part === 'subject' ? source.replace(/[\r\n]+$/, '') : source
  }

  const templates: TemplateFolderEntry[] = []
  for (const group of groups.values()) {
    const { name, language, files, sources } = group
    const firstFile = files.html ?? files.text ?? files.subject!
    if (files.subject === undefined) {
      problem(
        firstFile,
        `${name} (${language}) has no subject: add ${name}.${language}.liquid.subject`,
      )
      continue
    }
    if (files.html === undefined && files.text === undefined) {
      problem(
        firstFile,
        `${name} (${language}) has a subject but no body: add ${name}.${language}.liquid.html or .txt`,
      )
      continue
    }
    const content: TemplateContent = {
      subject: sources.subject!,
      html: sources.html ?? null,
      text: sources.text ?? null,
    }
    const found = listTemplateProblems(content)
    for (const error of found) {
      const file = files[error.field as Part] ?? firstFile
      if (error instanceof TemplateSyntaxError) {
        problem(file, liquidMessage(error.cause), error.line, error.column)
      } else {
        problem(file, error.message)
      }
    }
    if (found.length > 0) continue
    templates.push({
      name,
      language,
      content: {
        subject: content.subject,
        html: content.html?.trim() ? content.html : null,
        text: content.text?.trim() ? content.text : null,
      },
      files: { subject: files.subject, html: files.html ?? null, text: files.text ?? null },
    })
  }
  templates.sort((a, b) =>
    a.name === b.name ? a.language.localeCompare(b.language) : a.name.localeCompare(b.name),
  )
  problems.sort((a, b) => a.file.localeCompare(b.file) || (a.line ?? 0) - (b.line ?? 0))
  return { templates, problems }
}

/**
 * Reads a template folder (see {@link scanTemplateFolder}) and returns every template in it, by
 * name and language. Any problem throws one {@link InvalidMessageError} listing them all, one line
 * each as `file:line:column: what is wrong`; its `field` is the first problem's file.
 */
export async function readTemplateFolder(dir: string): Promise<TemplateFolderEntry[]> {
  const { templates, problems } = await scanTemplateFolder(dir)
  if (problems.length === 0) return templates
  const count = `${problems.length} problem${problems.length === 1 ? '' : 's'}`
  throw new InvalidMessageError(
    problems[0]!.file,
    `${count} in the template folder ${dir}, nothing was read:\n` +
      problems.map((p) => `  ${formatFolderProblem(p)}`).join('\n'),
  )
}
