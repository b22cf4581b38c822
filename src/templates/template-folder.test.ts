import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import { InvalidMessageError } from '../errors.js'
import { readTemplateFolder, scanTemplateFolder } from './template-folder.js'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'outbox-template-folder-'))
})
afterEach(() => {
  rmSync(dir, { recursive: true, force: true })
})

function write(files: Record<string, string | Buffer>): void {
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content)
}

async function problemsOf(): Promise<string> {
  try {
    await readTemplateFolder(dir)
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidMessageError)
    return (error as Error).message
  }
  throw new Error('expected the folder to be refused')
}

describe('readTemplateFolder', () => {
  it('groups the parts of each name and language, with or without .liquid', async () => {
    write({
      'welcome.en.liquid.subject': 'Welcome, {{ name }}\n',
      'welcome.en.liquid.html': '<p>Hi {{ name }}</p>\n',
      'welcome.en.liquid.txt': 'Hi {{ name }}\n',
      'welcome.de_AT.subject': 'Servus, {{ name }}',
      'welcome.de_AT.html': '<p>Servus {{ name }}</p>',
      'order.shipped.de.subject': '\ufeffVersandt',
      'order.shipped.de.txt': 'Unterwegs.',
      '.DS_Store': 'junk',
      'README.md': '# our templates',
    })
    const templates = await readTemplateFolder(dir)
    expect(templates).toEqual([
      {
        name: 'order.shipped',
        language: 'de',
        content: { subject: 'Versandt', html: null, text: 'Unterwegs.' },
        files: { subject: 'order.shipped.de.subject', html: null, text: 'order.shipped.de.txt' },
      },
      {
        name: 'welcome',
        language: 'de-AT',
        content: { subject: 'Servus, {{ name }}', html: '<p>Servus {{ name }}</p>', text: null },
        files: { subject: 'welcome.de_AT.subject', html: 'welcome.de_AT.html', text: null },
      },
      {
        name: 'welcome',
        language: 'en',
        content: {
          subject: 'Welcome, {{ name }}',
          html: '<p>Hi {{ name }}</p>\n',
          text: 'Hi {{ name }}\n',
        },
        files: {
          subject: 'welcome.en.liquid.subject',
          html: 'welcome.en.liquid.html',
          text: 'welcome.en.liquid.txt',
        },
      },
    ])
  })

  it('returns nothing for an empty folder', async () => {
    expect(await readTemplateFolder(dir)).toEqual([])
  })

  it('lists every problem, one line each, the field naming the first file', async () => {
    write({
      'welcome.en.subject': 'Welcome',
      'welcome.en.html': '<p>Hi</p>\n<p>\n{% if vip %}VIP</p>',
      'welcome.en.txt': 'Hi {{ name',
      'reset.de.liquid.html': '<p>Neues Passwort</p>',
      'notes.txt': 'not a template',
      'welcome.english.html': '<p>Hi</p>',
      'bad name!.en.html': '<p>Hi</p>',
      'logo.png': Buffer.from([0x89, 0x50]),
      'latin1.en.subject': Buffer.from([0x47, 0x72, 0xfc, 0xdf, 0x65]),
      'latin1.en.txt': 'x',
      'dup.en.subject': 'a',
      'dup.en.liquid.subject': 'b',
      'dup.en.txt': 'x',
      'lonely.fr.subject': 'Bonjour',
    })
    mkdirSync(join(dir, 'partials.en.html'))
    const message = await problemsOf()
    const lines = message.split('\n')
    expect(lines[0]).toBe(`12 problems in the template folder ${dir}, nothing was read:`)
    const fit =
      'name template files NAME.LANGUAGE.liquid.subject, .html or .txt (`.liquid` may be left out)'
    expect(lines.slice(1)).toEqual([
      '  bad name!.en.html: "bad name!" is not a template name: a letter or digit, then letters, ' +
        'digits, `.`, `_` or `-` (100 at most, not ending in `.`)',
      '  dup.en.subject: gives the subject part of dup (en), as dup.en.liquid.subject does: keep one of them',
      '  latin1.en.subject: is not UTF-8 text: save it as UTF-8',
      // The subject file could not be read, so the text file has none.
      '  latin1.en.txt: latin1 (en) has no subject: add latin1.en.liquid.subject',
      `  logo.png: does not fit: ${fit}`,
      '  lonely.fr.subject: lonely (fr) has a subject but no body: add lonely.fr.liquid.html or .txt',
      `  notes.txt: does not fit: ${fit}`,
      '  partials.en.html: is not a file: templates are read from the top level of the folder only',
      '  reset.de.liquid.html: reset (de) has no subject: add reset.de.liquid.subject',
      '  welcome.en.html:3:1: tag {% if vip %} not closed',
      '  welcome.en.txt:1:4: output "{{ name" not closed',
      `  welcome.english.html: "english" is not a language tag such as en, de or de-AT; ${fit}`,
    ])
  })

  it('names the first problem file as the field', async () => {
    write({ 'welcome.en.html': '<p>Hi</p>' })
    try {
      await readTemplateFolder(dir)
      expect.unreachable()
    } catch (error) {
      expect((error as InvalidMessageError).field).toBe('welcome.en.html')
      expect((error as Error).message).toContain('1 problem in the template folder')
    }
  })

  it('reports a subject that is empty or too long against its file', async () => {
    write({
      'a.en.subject': '\n',
      'a.en.txt': 'x',
      'b.en.subject': 'x'.repeat(999),
      'b.en.txt': 'x',
    })
    const { templates, problems } = await scanTemplateFolder(dir)
    expect(templates).toEqual([])
    expect(problems).toEqual([
      {
        file: 'a.en.subject',
        line: null,
        column: null,
        message: 'The subject is empty; every template needs one.',
      },
      {
        file: 'b.en.subject',
        line: null,
        column: null,
        message: 'The subject is 999 characters long; it may be 998 at most.',
      },
    ])
  })

  it('keeps the good templates when scanning a folder with problems', async () => {
    write({ 'ok.en.subject': 'Hi', 'ok.en.txt': 'x', 'bad.en.subject': '{{', 'bad.en.txt': 'x' })
    const { templates, problems } = await scanTemplateFolder(dir)
    expect(templates.map((t) => t.name)).toEqual(['ok'])
    expect(problems).toMatchObject([{ file: 'bad.en.subject', line: 1, column: 1 }])
  })

  it('refuses a folder it cannot read', async () => {
    await expect(readTemplateFolder(join(dir, 'missing'))).rejects.toMatchObject({
      field: 'folder',
      message: expect.stringMatching(
        /^Cannot read the template folder .*missing: ENOENT/,
      ) as unknown,
    })
  })
})
