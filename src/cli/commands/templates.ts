import { Option, type Command } from 'commander'
import type { TemplateDetail, TemplateSyncResult } from '../../admin/templates.js'
import { TemplateNotFoundError } from '../../errors.js'
import type { Outbox } from '../../outbox.js'
import type { StoredTemplate, TemplateContent } from '../../store/store.js'
import { CliExit, EXIT, withOutbox } from '../context.js'
import { age, table } from '../format.js'
import {
  editInEditor,
  editorText,
  parseEditorText,
  readContext,
  readInputFile,
  TEMPLATE_PARTS,
  withTemplateErrors,
  type TemplatePart,
} from '../template-input.js'
import { printable, printOut } from '../terminal.js'

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`

/** Template source and renderings are shown with their tabs; other controls escaped. */
const printSource = (text: string) => process.stdout.write(printable(text, '\n\t'))

/** `--version N`. */
function parseVersion(text: string): number {
  const version = /^\d+$/.test(text.trim()) ? Number(text) : NaN
  if (!(version >= 1 && Number.isSafeInteger(version))) {
    throw new CliExit(
      EXIT.usage,
      `--version ${JSON.stringify(text)}: expected a version number, 1 or more`,
    )
  }
  return version
}

/**
 * The parts given by options: `--subject`, `--html TEXT` or `--html-file FILE`, `--text TEXT`
 * or `--text-file FILE` (an empty html or text means none). Also which file each part came
 * from, so that a syntax error names the file.
 */
async function partsFromOptions(opts: PartOptions): Promise<{
  parts: Partial<TemplateContent>
  files: Partial<Record<TemplatePart, string>>
}> {
  const parts: Partial<TemplateContent> = {}
  const files: Partial<Record<TemplatePart, string>> = {}
  if (opts.subject !== undefined) parts.subject = opts.subject
  for (const part of ['html', 'text'] as const) {
    const inline = opts[part]
    const file = opts[`${part}File`]
    if (inline !== undefined && file !== undefined) {
      throw new CliExit(
        EXIT.usage,
        `give the ${part} part once: --${part} TEXT or --${part}-file FILE`,
      )
    }
    const value = file !== undefined ? await readInputFile(file, `--${part}-file`) : inline
    if (value === undefined) continue
    parts[part] = value.trim() === '' ? null : value
    if (file !== undefined) files[part] = file === '-' ? 'standard input' : file
  }
  const stdin = (['html', 'text'] as const).filter((p) => opts[`${p}File`] === '-')
  if (stdin.length > 1) {
    throw new CliExit(EXIT.usage, 'only one part can come from standard input (-)')
  }
  return { parts, files }
}

interface PartOptions {
  subject?: string
  html?: string
  htmlFile?: string
  text?: string
  textFile?: string
}

/** A syntax error's location: the file a part came from, else the part. */
const whereIn =
  (files: Partial<Record<TemplatePart, string>>) =>
  (field: string): string =>
    files[(field.split('.').pop() ?? field) as TemplatePart] ?? field

const partOptions = (command: Command, what: string): Command =>
  command
    .option('--subject <text>', `the subject${what}`)
    .option('--html <text>', `the HTML part${what}`)
    .option('--html-file <file>', `the HTML part from a file (- for standard input)${what}`)
    .option('--text <text>', `the text part${what} (empty: made from the HTML)`)
    .option('--text-file <file>', `the text part from a file (- for standard input)${what}`)

function versionLine(t: StoredTemplate, latest: number): string {
  return `${t.name} (${t.language}), version ${t.version}${t.version === latest ? ' (latest)' : ` of ${latest}`}, stored ${t.createdAt.toISOString()} (${age(t.createdAt)} ago)`
}

function formatDetail(detail: TemplateDetail): string {
  const now = Date.now()
  const rows = detail.languages.flatMap(({ language, versions }) =>
    versions.map((v, i) => [
      i === 0 ? language : '',
      String(v.version) + (i === 0 ? ' (latest)' : ''),
      `${v.createdAt.toISOString()} (${age(v.createdAt, now)} ago)`,
      v.subject,
    ]),
  )
  return `Template ${detail.name}\n${table(['LANGUAGE', 'VERSION', 'STORED', 'SUBJECT'], rows)}\n`
}

function formatSource(t: StoredTemplate, latest: number): string {
  const out = [versionLine(t, latest)]
  for (const part of TEMPLATE_PARTS) {
    const value = t[part]
    out.push(`----- ${part} -----`)
    out.push(
      value === null
        ? part === 'text'
          ? '(none: made from the HTML part)'
          : '(none: a text-only template)'
        : value.replace(/\n$/, ''),
    )
  }
  return `${out.join('\n')}\n`
}

function formatSync(result: TemplateSyncResult): string {
  return `${(['added', 'updated', 'unchanged', 'removed'] as const)
    .map(
      (k) => `${k} ${result[k].length}${result[k].length > 0 ? `: ${result[k].join(', ')}` : ''}`,
    )
    .join('\n')}\n`
}

/** The latest version number of one language in a template's detail. */
const latestOf = (detail: TemplateDetail, language: string) =>
  detail.languages.find((l) => l.language === language)?.versions[0]?.version ?? 0

export function registerTemplatesCommand(program: Command): void {
  const templates = program
    .command('templates')
    .description(
      'stored templates (Liquid), versioned per language and rendered once when a message is queued: ' +
        'list, show, add, edit, remove, render, sync from a folder',
    )

  templates
    .command('list', { isDefault: true })
    .description('every template: its languages with their latest version, when it last changed')
    .option('--json', 'print JSON: [{ name, languages: [{ language, version, updatedAt }] }]')
    .action(async (_opts: unknown, command: Command) => {
      const json = command.optsWithGlobals<{ json?: boolean }>().json === true
      await withOutbox(command, async (outbox) => {
        const list = await outbox.admin.templates.list()
        if (json) {
          process.stdout.write(`${JSON.stringify(list, null, 2)}\n`)
          return
        }
        if (list.length === 0) {
          printOut(
            'no templates: add one with `outbox templates add` or `outbox templates sync DIR`\n',
          )
          return
        }
        const now = Date.now()
        printOut(
          `${table(
            ['NAME', 'LANGUAGES', 'UPDATED'],
            list.map((t) => {
              const updated = Math.max(...t.languages.map((l) => l.updatedAt.getTime()))
              return [
                t.name,
                t.languages.map((l) => `${l.language} v${l.version}`).join(', '),
                `${age(new Date(updated), now)} ago`,
              ]
            }),
          )}\n`,
        )
      })
    })

  templates
    .command('show')
    .description(
      'one template: every language and its versions; with --language, the source (subject, html, text) of its latest version or of --version',
    )
    .argument('<name>', 'the template')
    .option('--language <tag>', 'show the source of this language')
    .option(
      '--version <n>',
      'this version instead of the latest (needs --language unless there is one language)',
    )
    .option('--json', 'print JSON: the template with every version, or the one version')
    .action(
      async (
        name: string,
        opts: { language?: string; version?: string; json?: boolean },
        command: Command,
      ) => {
        const version = opts.version !== undefined ? parseVersion(opts.version) : undefined
        await withOutbox(command, async (outbox) => {
          await withTemplateErrors(async () => {
            const detail = await outbox.admin.templates.get(name)
            let language = opts.language
            if (language === undefined && version !== undefined) {
              if (detail.languages.length !== 1) {
                throw new CliExit(
                  EXIT.usage,
                  `--version needs --language: ${name} is in ${detail.languages.map((l) => l.language).join(', ')}`,
                )
              }
              language = detail.languages[0]!.language
            }
            if (language === undefined) {
              if (opts.json) process.stdout.write(`${JSON.stringify(detail, null, 2)}\n`)
              else printOut(formatDetail(detail))
              return
            }
            const found = await outbox.admin.templates.show(name, language, version)
            if (opts.json) process.stdout.write(`${JSON.stringify(found, null, 2)}\n`)
            else printSource(formatSource(found, latestOf(detail, found.language)))
          })
        })
      },
    )

  partOptions(
    templates
      .command('add')
      .description(
        'add a template, or a language of one, as version 1 (a language it already has is refused: use edit)',
      )
      .argument('<name>', 'the template: a letter or digit, then letters, digits, . _ -')
      .requiredOption('--language <tag>', 'its language, such as en or de-AT'),
    '',
  )
    .option('--json', 'print JSON: the stored version')
    .action(
      async (
        name: string,
        opts: PartOptions & { language: string; json?: boolean },
        command: Command,
      ) => {
        const { parts, files } = await partsFromOptions(opts)
        if (parts.subject === undefined) {
          throw new CliExit(EXIT.usage, 'a template needs --subject')
        }
        if (parts.html == null && parts.text == null) {
          throw new CliExit(
            EXIT.usage,
            'a template needs a body: --html or --html-file, and/or --text or --text-file',
          )
        }
        await withOutbox(command, async (outbox) => {
          await withTemplateErrors(async () => {
            const existing = await existingVersion(outbox, name, opts.language)
            if (existing) {
              throw new CliExit(
                EXIT.usage,
                `${name} already has ${existing.language} (version ${existing.version}): change it with ` +
                  `\`outbox templates edit ${name} --language ${existing.language}\``,
              )
            }
            const { template } = await outbox.admin.templates.put(name, opts.language, {
              subject: parts.subject!,
              html: parts.html ?? null,
              text: parts.text ?? null,
            })
            if (opts.json) process.stdout.write(`${JSON.stringify(template, null, 2)}\n`)
            else
              printOut(
                `added ${template.name} (${template.language}), version ${template.version}\n`,
              )
          }, whereIn(files))
        })
      },
    )

  partOptions(
    templates
      .command('edit')
      .description(
        'store a new version of one language: the latest with the parts given replaced; ' +
          'with none given, opens $VISUAL or $EDITOR on the parts and stores what is saved if it changed',
      )
      .argument('<name>', 'the template')
      .requiredOption('--language <tag>', 'the language to change'),
    " (replaces the latest version's)",
  )
    .option('--json', 'print JSON: { template, created }')
    .action(
      async (
        name: string,
        opts: PartOptions & { language: string; json?: boolean },
        command: Command,
      ) => {
        const { parts, files } = await partsFromOptions(opts)
        const fromEditor = Object.keys(parts).length === 0
        await withOutbox(command, async (outbox) => {
          await withTemplateErrors(async () => {
            const latest = await outbox.admin.templates.show(name, opts.language).catch((error) => {
              // A template that exists, but not in that language: that is an add.
              if (error instanceof TemplateNotFoundError && error.field === 'language') {
                throw new CliExit(
                  EXIT.usage,
                  `${error.message} Add it with \`outbox templates add ${name} --language ${opts.language} …\``,
                )
              }
              throw error
            })
            let content: TemplateContent
            let where = whereIn(files)
            if (fromEditor) {
              const before = editorText(latest, latest)
              const fileName = `${latest.name.replace(/[^A-Za-z0-9_.-]/g, '_')}.${latest.language}.liquid.txt`
              const after = await editInEditor(before, fileName)
              if (after === before) {
                printOut(
                  `${name} (${latest.language}): not changed, still version ${latest.version}\n`,
                )
                return
              }
              content = parseEditorText(after)
              where = (field) => `the edited ${field.split('.').pop() ?? field} part`
            } else {
              content = {
                subject: parts.subject ?? latest.subject,
                html: parts.html !== undefined ? parts.html : latest.html,
                text: parts.text !== undefined ? parts.text : latest.text,
              }
            }
            const result = await withTemplateErrors(
              () => outbox.admin.templates.put(name, latest.language, content),
              where,
            )
            if (opts.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
            else if (!result.created)
              printOut(
                `${name} (${latest.language}): the same as version ${result.template.version}, nothing stored\n`,
              )
            else
              printOut(`${name} (${latest.language}): stored version ${result.template.version}\n`)
          })
        })
      },
    )

  templates
    .command('remove')
    .description(
      'delete a template with every version, or one language of it (messages made from it keep their content)',
    )
    .argument('<name>', 'the template')
    .option('--language <tag>', 'only this language')
    .option('--json', 'print JSON: { name, removed: [{ language, versions }], remaining }')
    .action(async (name: string, opts: { language?: string; json?: boolean }, command: Command) => {
      await withOutbox(command, async (outbox) => {
        await withTemplateErrors(async () => {
          // What there is before and after, to say exactly what went.
          const before = await outbox.admin.templates.get(name)
          await outbox.admin.templates.remove(name, opts.language)
          const after = await outbox.admin.templates.get(name).catch((error: unknown) => {
            if (isNotFound(error)) return null
            throw error
          })
          const left = new Set(after?.languages.map((l) => l.language) ?? [])
          const removed = before.languages
            .filter((l) => !left.has(l.language))
            .map((l) => ({ language: l.language, versions: l.versions.length }))
          if (opts.json) {
            process.stdout.write(
              `${JSON.stringify({ name, removed, remaining: [...left] }, null, 2)}\n`,
            )
            return
          }
          const what = removed
            .map((r) => `${r.language} (${plural(r.versions, 'version')})`)
            .join(', ')
          printOut(
            `removed ${name}: ${what}` +
              (left.size > 0 ? `; still in ${[...left].join(', ')}` : '') +
              '\n',
          )
        })
      })
    })

  templates
    .command('render')
    .description(
      'render a stored template with a context, as send-template would (language fallback included), without sending anything',
    )
    .argument('<name>', 'the template')
    .option('--language <tag>', 'the language (falls back as sending does)')
    .option('--version <n>', 'this version instead of the latest')
    .option('--context <json>', 'the values the template uses, a JSON object')
    .option('--context-file <file>', 'the context from a JSON file, or - for standard input')
    .addOption(
      new Option('--part <part>', 'print only this part, exactly as rendered').choices(
        TEMPLATE_PARTS,
      ),
    )
    .option('--json', 'print JSON: { subject, html, text, name, language, version }')
    .action(
      async (
        name: string,
        opts: {
          language?: string
          version?: string
          context?: string
          contextFile?: string
          part?: TemplatePart
          json?: boolean
        },
        command: Command,
      ) => {
        const version = opts.version !== undefined ? parseVersion(opts.version) : undefined
        const context = await readContext(opts)
        await withOutbox(command, async (outbox) => {
          const r = await withTemplateErrors(() =>
            outbox.admin.templates.render({
              name,
              ...(opts.language !== undefined ? { language: opts.language } : {}),
              ...(version !== undefined ? { version } : {}),
              context,
            }),
          )
          if (opts.json) {
            process.stdout.write(`${JSON.stringify(r, null, 2)}\n`)
            return
          }
          if (opts.part) {
            const value = r[opts.part] ?? ''
            process.stdout.write(value.endsWith('\n') || value === '' ? value : `${value}\n`)
            return
          }
          const out = [`${r.name} (${r.language}), version ${r.version}`, `Subject: ${r.subject}`]
          for (const part of ['html', 'text'] as const) {
            const value = r[part]
            out.push(`----- ${part} -----`, value === null ? '(none)' : value.replace(/\n$/, ''))
          }
          printSource(`${out.join('\n')}\n`)
        })
      },
    )

  templates
    .command('sync')
    .description(
      'make the store hold the templates of a folder (welcome.de.liquid.html, welcome.de.liquid.txt, ' +
        'welcome.de.liquid.subject): a new version of each language that changed. Every file is ' +
        'checked first: one bad file and nothing is stored (exit code 2)',
    )
    .argument('<dir>', 'the folder')
    .option('--prune', 'also delete the languages (and templates) the folder does not have')
    .option('--json', 'print JSON: { added, updated, unchanged, removed } as name.language lists')
    .action(async (dir: string, opts: { prune?: boolean; json?: boolean }, command: Command) => {
      await withOutbox(command, async (outbox) => {
        const result = await withTemplateErrors(() =>
          outbox.admin.templates.sync(dir, { prune: opts.prune === true }),
        )
        if (opts.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
        else printOut(formatSync(result))
      })
    })

  templates.commands.forEach((c) =>
    c.exitOverride().showHelpAfterError('(run with --help for usage)'),
  )
}

/** The latest version of one language, or null when the template does not have it. */
async function existingVersion(
  outbox: Outbox,
  name: string,
  language: string,
): Promise<StoredTemplate | null> {
  try {
    return await outbox.admin.templates.show(name, language)
  } catch (error) {
    if (isNotFound(error)) return null
    throw error
  }
}

const isNotFound = (error: unknown) => error instanceof TemplateNotFoundError
