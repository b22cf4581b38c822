import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InvalidMessageError, TemplateSyntaxError } from '../errors.js'
import type { TemplateContent } from '../store/store.js'
import { CliExit, EXIT } from './context.js'

/** The three parts of a template, in the order they are shown and edited. */
export const TEMPLATE_PARTS = ['subject', 'html', 'text'] as const
export type TemplatePart = (typeof TEMPLATE_PARTS)[number]

/** Reads a whole file (or standard input for `-`) as UTF-8; a missing file is bad usage. */
export async function readInputFile(file: string, option: string): Promise<string> {
  if (file === '-') {
    const chunks: Buffer[] = []
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks).toString('utf8')
  }
  try {
    if (!statSync(file).isFile()) throw new Error('not a file')
    return readFileSync(file, 'utf8')
  } catch (error) {
    throw new CliExit(EXIT.usage, `${option} ${file}: cannot read it: ${(error as Error).message}`)
  }
}

/**
 * The template context of `--context JSON` or `--context-file FILE|-`: a JSON object, or `{}`
 * when neither is given. Anything else stops the command with exit code 2.
 */
export async function readContext(opts: {
  context?: string
  contextFile?: string
}): Promise<Record<string, unknown>> {
  if (opts.context !== undefined && opts.contextFile !== undefined) {
    throw new CliExit(EXIT.usage, 'give the context once: --context JSON or --context-file FILE')
  }
  let text: string
  let source: string
  if (opts.context !== undefined) {
    text = opts.context
    source = '--context'
  } else if (opts.contextFile !== undefined) {
    text = await readInputFile(opts.contextFile, '--context-file')
    source = `--context-file ${opts.contextFile === '-' ? '- (standard input)' : opts.contextFile}`
  } else {
    return {}
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new CliExit(EXIT.usage, `${source}: not JSON: ${(error as Error).message}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value
    throw new CliExit(
      EXIT.usage,
      `${source}: expected a JSON object such as {"name":"Ann"}, got ${got}`,
    )
  }
  return value as Record<string, unknown>
}

/**
 * Turns the errors of template input into one line and exit code 2: a syntax error as
 * `file-or-part:line:column: message` (`where` maps a part to the file it came from), any other
 * bad input (unknown template, missing variable, bad address) as its message, naming its field
 * when the message does not. Anything else is left as it is.
 */
export function templateInputError(
  error: unknown,
  where: (field: string) => string = (field) => field,
): unknown {
  if (error instanceof TemplateSyntaxError) {
    const position =
      error.line !== null ? `:${error.line}${error.column !== null ? `:${error.column}` : ''}` : ''
    // The position is said up front, as compilers do: the message keeps only the fault.
    const fault =
      error.line !== null
        ? error.message.replace(/^.*? does not parse at line \d+, column \d+: /s, '')
        : error.message
    return new CliExit(EXIT.usage, `${where(error.field)}${position}: ${fault}`)
  }
  if (error instanceof InvalidMessageError) {
    const named = error.message.includes(error.field)
    return new CliExit(EXIT.usage, named ? error.message : `${error.field}: ${error.message}`)
  }
  return error
}

/** Runs `run`, turning template input errors into exit code 2 (see {@link templateInputError}). */
export async function withTemplateErrors<T>(
  run: () => Promise<T>,
  where?: (field: string) => string,
): Promise<T> {
  try {
    return await run()
  } catch (error) {
    throw templateInputError(error, where)
  }
}

/** The line that starts each part in the file an editor gets. */
const marker = (part: TemplatePart) => `----- outbox template: ${part} -----`
const MARKER = /^----- outbox template: (subject|html|text) -----$/

/**
 * The text an editor gets: comment lines, then each part after its marker line. Each part is
 * followed by one newline that {@link parseEditorText} takes off again, so a part that ends
 * with a newline, or does not, comes back as it was.
 */
export function editorText(
  content: TemplateContent,
  about: { name: string; language: string; version: number },
): string {
  const lines = [
    `# Template ${about.name} (${about.language}), from version ${about.version}.`,
    '# Edit the parts below their marker lines and save: a changed template is stored as a new',
    '# version; unchanged, nothing is stored. An empty html or text part means none (the text',
    '# is then made from the HTML). Lines starting with # above the first marker are ignored.',
  ]
  let text = `${lines.join('\n')}\n`
  for (const part of TEMPLATE_PARTS) text += `${marker(part)}\n${content[part] ?? ''}\n`
  return text
}

/** The parts of an edited file (see {@link editorText}); a file without every marker is refused. */
export function parseEditorText(text: string): TemplateContent {
  const lines = text.replace(/\r\n/g, '\n').split('\n')
  const parts = new Map<TemplatePart, string[]>()
  let current: string[] | null = null
  for (const line of lines) {
    const match = MARKER.exec(line)
    if (match) {
      const part = match[1] as TemplatePart
      if (parts.has(part)) {
        throw new CliExit(
          EXIT.usage,
          `the edited file has the ${part} marker twice; nothing stored`,
        )
      }
      current = []
      parts.set(part, current)
    } else if (current) {
      current.push(line)
    } else if (line.trim() !== '' && !line.startsWith('#')) {
      throw new CliExit(
        EXIT.usage,
        `the edited file has text before the first marker line (${JSON.stringify(line.slice(0, 40))}); nothing stored`,
      )
    }
  }
  const missing = TEMPLATE_PARTS.filter((p) => !parts.has(p))
  if (missing.length > 0) {
    throw new CliExit(
      EXIT.usage,
      `the edited file lacks the marker line of ${missing.join(', ')} (${marker(missing[0]!)}); nothing stored`,
    )
  }
  const value = (part: TemplatePart) => {
    // The newline written after each part, and the one ending the file, come off.
    const partLines = parts.get(part)!
    if (partLines.length > 0 && partLines[partLines.length - 1] === '') partLines.pop()
    return partLines.join('\n')
  }
  const orNull = (s: string) => (s.trim() === '' ? null : s)
  return {
    subject: value('subject').trim(),
    html: orNull(value('html')),
    text: orNull(value('text')),
  }
}

/**
 * Opens `$VISUAL` (else `$EDITOR`, else `vi`) on a temporary file holding `text`, as git does
 * (through the shell, so `EDITOR="code --wait"` works), and returns what was saved. The file
 * is readable by its owner only and removed afterwards.
 */
export async function editInEditor(text: string, fileName: string): Promise<string> {
  const editor = process.env.VISUAL?.trim() || process.env.EDITOR?.trim() || 'vi'
  const dir = mkdtempSync(join(tmpdir(), 'outbox-template-'))
  const file = join(dir, fileName)
  try {
    writeFileSync(file, text, { mode: 0o600 })
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn('/bin/sh', ['-c', `${editor} "$@"`, editor, file], { stdio: 'inherit' })
      child.once('error', reject)
      child.once('exit', (exitCode, signal) => resolve(signal ? null : exitCode))
    })
    if (code !== 0) {
      throw new CliExit(
        EXIT.failed,
        `the editor (${editor}) ${
          code === null
            ? 'was killed'
            : code === 127
              ? 'was not found: set VISUAL or EDITOR'
              : `exited with code ${code}`
        }; nothing stored`,
      )
    }
    return readFileSync(file, 'utf8')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
