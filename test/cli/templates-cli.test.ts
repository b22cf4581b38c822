import { spawn } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import PostalMime from 'postal-mime'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CLI, cleanEnv, runCli, type CliResult } from '../helpers/run-cli.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'

let cwd: string
let store: string
let sink: SmtpSink
beforeEach(async () => {
  cwd = mkdtempSync(join(tmpdir(), 'outbox-templates-'))
  store = `sqlite:${join(cwd, 'queue.db')}`
  sink = await createSmtpSink()
  // Commands that change a queue refuse to create one from a mistyped path: make it first.
  const migrated = await cli('migrate')
  expect(migrated.code, migrated.stderr).toBe(0)
})
afterEach(async () => {
  await sink.close()
  rmSync(cwd, { recursive: true, force: true })
})

function env(extra: Record<string, string> = {}): Record<string, string> {
  // VISUAL wins over EDITOR: a developer's own must not open in a test.
  return { OUTBOX_STORE: store, OUTBOX_UPSTREAM: sink.url, VISUAL: '', ...extra }
}

const cli = (...args: string[]) => runCli(args, { cwd, env: env(), timeoutMs: 30_000 })
const cliEnv = (extra: Record<string, string>, ...args: string[]) =>
  runCli(args, { cwd, env: env(extra), timeoutMs: 30_000 })

/** `outbox ARGS…` reading `input` on standard input (at most 30 s). */
function cliWithInput(args: string[], input: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: cleanEnv(env()) })
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`outbox ${args.join(' ')} did not finish in time\n${stdout}\n${stderr}`))
    }, 30_000)
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
    child.stdin.end(input)
  })
}

const json = <T>(text: string) => JSON.parse(text) as T
const ok = (r: CliResult) => {
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0)
  return r
}
/** A usage error: exit code 2 and one line on stderr. */
const refused = (r: CliResult) => {
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(2)
  expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1)
  return r.stderr
}
const write = (name: string, text: string) => {
  const path = join(cwd, name)
  writeFileSync(path, text)
  return path
}

interface Summary {
  name: string
  languages: { language: string; version: number; updatedAt: string }[]
}
interface Version {
  name: string
  language: string
  version: number
  subject: string
  html: string | null
  text: string | null
}
interface Rendering {
  name: string
  language: string
  version: number
  subject: string
  html: string | null
  text: string | null
}

const listed = async () =>
  json<Summary[]>(ok(await cli('templates', 'list', '--json')).stdout).map((t) => ({
    name: t.name,
    languages: t.languages.map((l) => `${l.language} v${l.version}`),
  }))

async function addWelcome() {
  write(
    'welcome.html',
    "<p>Hello <b>{{ name }}</b>, you have {{ points | format_number }} points since {{ since | format_date: 'long' }}.</p>\n",
  )
  ok(
    await cli(
      'templates',
      'add',
      'welcome',
      '--language',
      'en',
      '--subject',
      'Welcome, {{ name }}',
      '--html-file',
      'welcome.html',
      '--text',
      'Hello {{ name }}, you have {{ points | format_number }} points.',
    ),
  )
  ok(
    await cli(
      'templates',
      'add',
      'welcome',
      '--language',
      'de',
      '--subject',
      'Willkommen, {{ name }}',
      '--html',
      "<p>Hallo <b>{{ name }}</b>, Sie haben {{ points | format_number }} Punkte seit {{ since | format_date: 'long' }}.</p>",
    ),
  )
}

describe('outbox templates add, edit, show, list, remove', () => {
  it('adds version 1, edits to version 2, shows every version and the source of one', async () => {
    write('welcome.html', '<p>Hello <b>{{ name }}</b></p>\n')
    const added = ok(
      await cli(
        'templates',
        'add',
        'welcome',
        '--language',
        'en',
        '--subject',
        'Welcome, {{ name }}',
        '--html-file',
        'welcome.html',
        '--text',
        'Hello {{ name }}',
      ),
    )
    expect(added.stdout).toBe('added welcome (en), version 1\n')

    // A language it has is edited, not added again.
    const again = refused(
      await cli('templates', 'add', 'welcome', '--language', 'en', '--subject', 'x', '--text', 'y'),
    )
    expect(again).toContain('welcome already has en (version 1)')
    expect(again).toContain('outbox templates edit welcome --language en')

    const edited = ok(
      await cli('templates', 'edit', 'welcome', '--language', 'en', '--subject', 'Hi, {{ name }}'),
    )
    expect(edited.stdout).toBe('welcome (en): stored version 2\n')
    // The same content again stores nothing.
    const same = ok(
      await cli('templates', 'edit', 'welcome', '--language', 'en', '--subject', 'Hi, {{ name }}'),
    )
    expect(same.stdout).toContain('the same as version 2, nothing stored')

    const shown = ok(await cli('templates', 'show', 'welcome'))
    expect(shown.stdout).toMatch(/^Template welcome$/m)
    expect(shown.stdout).toMatch(/^LANGUAGE\s+VERSION\s+STORED\s+SUBJECT$/m)
    expect(shown.stdout).toMatch(/^en\s+2 \(latest\)\s+\S+.*Hi, \{\{ name \}\}$/m)
    expect(shown.stdout).toMatch(/^\s+1\s+\S+.*Welcome, \{\{ name \}\}$/m)

    // The source of one version: the edit kept the HTML and text of version 1.
    const v2 = ok(await cli('templates', 'show', 'welcome', '--language', 'en'))
    expect(v2.stdout).toMatch(/^welcome \(en\), version 2 \(latest\), stored /)
    expect(v2.stdout).toContain(
      '----- subject -----\nHi, {{ name }}\n----- html -----\n<p>Hello <b>{{ name }}</b></p>\n----- text -----\nHello {{ name }}\n',
    )
    // One language: --version needs no --language.
    const v1 = json<Version>(
      ok(await cli('templates', 'show', 'welcome', '--version', '1', '--json')).stdout,
    )
    expect(v1).toMatchObject({
      name: 'welcome',
      language: 'en',
      version: 1,
      subject: 'Welcome, {{ name }}',
      html: '<p>Hello <b>{{ name }}</b></p>\n',
      text: 'Hello {{ name }}',
    })
    const all = json<{ languages: { language: string; versions: { version: number }[] }[] }>(
      ok(await cli('templates', 'show', 'welcome', '--json')).stdout,
    )
    expect(all.languages.map((l) => [l.language, l.versions.map((v) => v.version)])).toEqual([
      ['en', [2, 1]],
    ])
    expect(
      refused(await cli('templates', 'show', 'welcome', '--language', 'en', '--version', '3')),
    ).toContain('no version 3')
    expect(refused(await cli('templates', 'show', 'nope'))).toContain('No template named "nope"')

    // A second language; the listing shows each language's latest version.
    ok(
      await cli(
        'templates',
        'add',
        'welcome',
        '--language',
        'de',
        '--subject',
        'Hallo',
        '--text',
        'Hallo',
      ),
    )
    ok(
      await cli('templates', 'add', 'receipt', '--language', 'en', '--subject', 'R', '--text', 'R'),
    )
    expect(await listed()).toEqual([
      { name: 'receipt', languages: ['en v1'] },
      { name: 'welcome', languages: ['de v1', 'en v2'] },
    ])
    const table = ok(await cli('templates', 'list'))
    expect(table.stdout).toMatch(/^NAME\s+LANGUAGES\s+UPDATED$/m)
    expect(table.stdout).toMatch(/^welcome\s+de v1, en v2\s+\S+ ago$/m)
    // `outbox templates` alone lists them too.
    const bare = ok(await cli('templates')).stdout
    expect(bare).toMatch(
      /^NAME\s+LANGUAGES\s+UPDATED\nreceipt\s+en v1\s+\S+ ago\nwelcome\s+de v1, en v2\s+\S+ ago\n$/,
    )

    // Removing asks nothing and says what went.
    const removedDe = ok(await cli('templates', 'remove', 'welcome', '--language', 'de'))
    expect(removedDe.stdout).toBe('removed welcome: de (1 version); still in en\n')
    const removedAll = ok(await cli('templates', 'remove', 'welcome'))
    expect(removedAll.stdout).toBe('removed welcome: en (2 versions)\n')
    expect(await listed()).toEqual([{ name: 'receipt', languages: ['en v1'] }])
    expect(refused(await cli('templates', 'remove', 'welcome'))).toContain(
      'No template named "welcome"',
    )
    expect(refused(await cli('templates', 'remove', 'receipt', '--language', 'fr'))).toContain(
      'no language fr',
    )
  })

  it('refuses bad input with exit code 2 and one line, storing nothing', async () => {
    const noBody = refused(await cli('templates', 'add', 'x', '--language', 'en', '--subject', 'S'))
    expect(noBody).toContain('needs a body')
    expect(
      refused(
        await cli(
          'templates',
          'add',
          'x',
          '--language',
          'en',
          '--subject',
          'S',
          '--html',
          'a',
          '--html-file',
          'f',
        ),
      ),
    ).toContain('give the html part once')
    expect(
      refused(
        await cli(
          'templates',
          'add',
          'x',
          '--language',
          'en',
          '--subject',
          'S',
          '--html-file',
          'missing.html',
        ),
      ),
    ).toContain('--html-file missing.html: cannot read it')
    expect(
      refused(await cli('templates', 'edit', 'x', '--language', 'en', '--subject', 'S')),
    ).toContain('No template named "x"')
    expect(await listed()).toEqual([])
  })

  it('names the file or part, line and column of a syntax error', async () => {
    write('bad.html', '<p>Hello</p>\n<p>{% if name %}Hi {{ name }}</p>\n')
    const inFile = refused(
      await cli(
        'templates',
        'add',
        'bad',
        '--language',
        'en',
        '--subject',
        'S',
        '--html-file',
        'bad.html',
      ),
    )
    expect(inFile).toMatch(/^outbox: bad\.html:\d+:\d+: /)
    const inSubject = refused(
      await cli(
        'templates',
        'add',
        'bad',
        '--language',
        'en',
        '--subject',
        'Hi {{ name ',
        '--text',
        'x',
      ),
    )
    expect(inSubject).toMatch(/^outbox: subject:1:\d+: /)
    ok(await cli('templates', 'add', 'good', '--language', 'en', '--subject', 'S', '--text', 'T'))
    const inEdit = refused(
      await cli('templates', 'edit', 'good', '--language', 'en', '--text', 'line one\n{{ x '),
    )
    expect(inEdit).toMatch(/^outbox: text:2:\d+: /)
    // Editing a language it does not have is an add.
    expect(
      refused(await cli('templates', 'edit', 'good', '--language', 'fr', '--subject', 'S')),
    ).toContain('Add it with `outbox templates add good --language fr')
    expect(await listed()).toEqual([{ name: 'good', languages: ['en v1'] }])
  })
})

describe('outbox templates edit with an editor', () => {
  it('opens $EDITOR on the parts and stores what comes back when it changed', async () => {
    ok(
      await cli(
        'templates',
        'add',
        'welcome',
        '--language',
        'en',
        '--subject',
        'Welcome, {{ name }}',
        '--html',
        '<p>Hello {{ name }}</p>',
      ),
    )
    // The editor: keeps a copy of what it was given, then rewrites the file in place.
    const editor = write(
      'editor.sh',
      [
        '#!/bin/sh',
        `cp "$1" "${join(cwd, 'given.txt')}"`,
        'sed -i -e "s/Hello/Howdy/" -e "s/^Welcome,/Hi,/" "$1"',
        '',
      ].join('\n'),
    )
    chmodSync(editor, 0o755)
    const edited = ok(
      await cliEnv({ EDITOR: editor }, 'templates', 'edit', 'welcome', '--language', 'en'),
    )
    expect(edited.stdout).toBe('welcome (en): stored version 2\n')
    const given = readFileSync(join(cwd, 'given.txt'), 'utf8')
    expect(given).toMatch(/^# Template welcome \(en\), from version 1\./)
    expect(given).toContain(
      '----- outbox template: subject -----\nWelcome, {{ name }}\n' +
        '----- outbox template: html -----\n<p>Hello {{ name }}</p>\n' +
        '----- outbox template: text -----\n\n',
    )
    const v2 = json<Version>(
      ok(await cli('templates', 'show', 'welcome', '--language', 'en', '--json')).stdout,
    )
    expect(v2).toMatchObject({
      version: 2,
      subject: 'Hi, {{ name }}',
      html: '<p>Howdy {{ name }}</p>',
      text: null,
    })

    // An editor that changes nothing stores nothing.
    const unchanged = ok(
      await cliEnv({ EDITOR: 'true' }, 'templates', 'edit', 'welcome', '--language', 'en'),
    )
    expect(unchanged.stdout).toBe('welcome (en): not changed, still version 2\n')

    // A syntax error in what was saved: exit 2, nothing stored.
    const breaker = write(
      'break.sh',
      '#!/bin/sh\nsed -i -e "s/Howdy {{ name }}/Howdy {{ name /" "$1"\n',
    )
    chmodSync(breaker, 0o755)
    expect(
      refused(
        await cliEnv({ EDITOR: breaker }, 'templates', 'edit', 'welcome', '--language', 'en'),
      ),
    ).toMatch(/^outbox: the edited html part:1:\d+: /)

    // An editor that fails: exit 1, nothing stored.
    const failing = await cliEnv(
      { EDITOR: 'false' },
      'templates',
      'edit',
      'welcome',
      '--language',
      'en',
    )
    expect(failing.code).toBe(1)
    expect(failing.stderr).toContain('exited with code 1; nothing stored')
    // VISUAL wins over EDITOR.
    const visual = ok(
      await cliEnv(
        { VISUAL: editor, EDITOR: 'false' },
        'templates',
        'edit',
        'welcome',
        '--language',
        'en',
      ),
    )
    expect(visual.stdout).toBe('welcome (en): not changed, still version 2\n')
    expect(await listed()).toEqual([{ name: 'welcome', languages: ['en v2'] }])
  })
})

describe('outbox templates render', () => {
  it('renders with a context, per language, as a whole or one part', async () => {
    await addWelcome()
    const context = '{"name":"Ann <b>","points":1234.5,"since":"2026-03-05T10:00:00Z"}'
    const en = json<Rendering>(
      ok(
        await cli(
          'templates',
          'render',
          'welcome',
          '--language',
          'en',
          '--context',
          context,
          '--json',
        ),
      ).stdout,
    )
    expect(en).toMatchObject({
      name: 'welcome',
      language: 'en',
      version: 1,
      subject: 'Welcome, Ann <b>',
    })
    expect(en.html).toContain(
      'Hello <b>Ann &lt;b&gt;</b>, you have 1,234.5 points since March 5, 2026.',
    )
    expect(en.text).toBe('Hello Ann <b>, you have 1,234.5 points.')
    const de = json<Rendering>(
      ok(
        await cli(
          'templates',
          'render',
          'welcome',
          '--language',
          'de',
          '--context',
          context,
          '--json',
        ),
      ).stdout,
    )
    expect(de.html).toContain('Sie haben 1.234,5 Punkte seit 5. März 2026.')

    // From a file and from standard input; one part exactly.
    write('ctx.json', context)
    const subject = ok(
      await cli(
        'templates',
        'render',
        'welcome',
        '--language',
        'de',
        '--context-file',
        'ctx.json',
        '--part',
        'subject',
      ),
    )
    expect(subject.stdout).toBe('Willkommen, Ann <b>\n')
    const piped = await cliWithInput(
      [
        'templates',
        'render',
        'welcome',
        '--language',
        'en',
        '--context-file',
        '-',
        '--part',
        'text',
      ],
      context,
    )
    expect(ok(piped).stdout).toBe('Hello Ann <b>, you have 1,234.5 points.\n')
    const whole = ok(
      await cli('templates', 'render', 'welcome', '--language', 'en', '--context', context),
    )
    expect(whole.stdout).toMatch(
      /^welcome \(en\), version 1\nSubject: Welcome, Ann <b>\n----- html -----\n/,
    )

    // A language it lacks falls back as sending does: de-AT is rendered from de.
    const at = json<Rendering>(
      ok(
        await cli(
          'templates',
          'render',
          'welcome',
          '--language',
          'de-AT',
          '--context',
          context,
          '--json',
        ),
      ).stdout,
    )
    expect(at.language).toBe('de')
  })

  it('refuses a missing variable, a context that is not an object, an unknown template: exit 2', async () => {
    await addWelcome()
    const missing = refused(
      await cli(
        'templates',
        'render',
        'welcome',
        '--language',
        'en',
        '--context',
        '{"name":"Ann"}',
      ),
    )
    expect(missing).toContain('context.points')
    expect(refused(await cli('templates', 'render', 'welcome', '--context', '[1]'))).toContain(
      '--context: expected a JSON object such as {"name":"Ann"}, got an array',
    )
    expect(refused(await cli('templates', 'render', 'welcome', '--context', '{name}'))).toContain(
      '--context: not JSON',
    )
    expect(refused(await cli('templates', 'render', 'nope', '--context', '{}'))).toContain(
      'No template named "nope"',
    )
    expect(
      refused(await cli('templates', 'render', 'welcome', '--language', 'fr', '--context', '{}')),
    ).toContain('is not in fr')
    expect(refused(await cli('templates', 'render', 'welcome', '--version', 'two'))).toContain(
      '--version "two": expected a version number',
    )
  })
})

describe('outbox templates sync', () => {
  it('adds, leaves unchanged, updates; a bad file stores nothing; --prune removes', async () => {
    const dir = join(cwd, 'templates')
    mkdirSync(dir)
    const file = (name: string, text: string) => writeFileSync(join(dir, name), text)
    file('welcome.en.liquid.subject', 'Welcome, {{ name }}\n')
    file('welcome.en.liquid.html', '<p>Hello {{ name }}</p>\n')
    file('welcome.en.liquid.txt', 'Hello {{ name }}\n')
    file('welcome.de.liquid.subject', 'Willkommen, {{ name }}\n')
    file('welcome.de.liquid.html', '<p>Hallo {{ name }}</p>\n')

    const first = ok(await cli('templates', 'sync', dir))
    expect(first.stdout).toBe(
      'added 2: welcome.de, welcome.en\nupdated 0\nunchanged 0\nremoved 0\n',
    )
    const rendered = json<Rendering>(
      ok(
        await cli(
          'templates',
          'render',
          'welcome',
          '--language',
          'de',
          '--context',
          '{"name":"Ann"}',
          '--json',
        ),
      ).stdout,
    )
    expect(rendered.subject).toBe('Willkommen, Ann')
    expect(rendered.html).toContain('<p>Hallo Ann</p>')

    const second = json<Record<string, string[]>>(
      ok(await cli('templates', 'sync', dir, '--json')).stdout,
    )
    expect(second).toEqual({
      added: [],
      updated: [],
      unchanged: ['welcome.de', 'welcome.en'],
      removed: [],
    })

    file('welcome.de.liquid.html', '<p>Hallo {{ name }}!</p>\n')
    const third = ok(await cli('templates', 'sync', dir))
    expect(third.stdout).toBe(
      'added 0\nupdated 1: welcome.de\nunchanged 1: welcome.en\nremoved 0\n',
    )
    expect(await listed()).toEqual([{ name: 'welcome', languages: ['de v2', 'en v1'] }])

    // One bad file: exit 2 naming it, and nothing stored, the good change included.
    file('welcome.en.liquid.txt', 'Hello {{ name }}, changed\n')
    file('receipt.en.liquid.subject', 'Receipt\n')
    file('receipt.en.liquid.html', '<p>{% for x in items %}{{ x }}</p>\n')
    const bad = await cli('templates', 'sync', dir)
    expect(bad.code).toBe(2)
    // Every problem of the folder, one line each, as file:line:column: message.
    expect(bad.stderr).toMatch(
      /nothing was read:\n {2}receipt\.en\.liquid\.html:1:4: tag \{% for x in items %\} not closed/,
    )
    expect(await listed()).toEqual([{ name: 'welcome', languages: ['de v2', 'en v1'] }])
    rmSync(join(dir, 'receipt.en.liquid.html'))
    rmSync(join(dir, 'receipt.en.liquid.subject'))
    // A file whose name says no language: refused too.
    file('receipt.liquid.html', '<p>Receipt</p>\n')
    const badName = await cli('templates', 'sync', dir)
    expect(badName.code).toBe(2)
    expect(badName.stderr).toContain('receipt.liquid.html: ')
    expect(await listed()).toEqual([{ name: 'welcome', languages: ['de v2', 'en v1'] }])
    rmSync(join(dir, 'receipt.liquid.html'))

    // --prune deletes what the folder does not have: a language, and a template added by hand.
    ok(await cli('templates', 'add', 'adhoc', '--language', 'en', '--subject', 'S', '--text', 'T'))
    for (const ext of ['subject', 'html']) rmSync(join(dir, `welcome.de.liquid.${ext}`))
    const kept = ok(await cli('templates', 'sync', dir))
    expect(kept.stdout).toBe('added 0\nupdated 1: welcome.en\nunchanged 0\nremoved 0\n')
    expect(await listed()).toEqual([
      { name: 'adhoc', languages: ['en v1'] },
      { name: 'welcome', languages: ['de v2', 'en v2'] },
    ])
    const pruned = json<Record<string, string[]>>(
      ok(await cli('templates', 'sync', dir, '--prune', '--json')).stdout,
    )
    expect(pruned).toEqual({
      added: [],
      updated: [],
      unchanged: ['welcome.en'],
      removed: expect.arrayContaining(['adhoc.en', 'welcome.de']) as string[],
    })
    expect(pruned.removed).toHaveLength(2)
    expect(await listed()).toEqual([{ name: 'welcome', languages: ['en v2'] }])
    expect(refused(await cli('templates', 'sync', join(cwd, 'no-such-folder')))).toContain(
      'no-such-folder',
    )
  })
})

describe('outbox send-template', () => {
  it('queues a rendered message that records its template version and arrives as rendered', async () => {
    await addWelcome()
    const queued = ok(
      await cli(
        'send-template',
        'welcome',
        '--to',
        'ann@example.com',
        '--cc',
        'bob@example.com',
        '--from',
        'Shop <shop@example.com>',
        '--language',
        'de',
        '--context',
        '{"name":"Ann","points":1234.5,"since":"2026-03-05T10:00:00Z"}',
        '--tag',
        'welcome',
        '--tag',
        'onboarding',
        '--priority',
        'high',
        '--json',
      ),
    )
    const result = json<{ id: string; status: string; duplicate: boolean; template: unknown }>(
      queued.stdout,
    )
    expect(result).toMatchObject({
      status: 'queued',
      duplicate: false,
      template: { name: 'welcome', language: 'de', version: 1 },
    })
    const shown = json<{
      template: unknown
      tags: string[]
      priority: string
      recipients: string[]
    }>(ok(await cli('show', result.id, '--json')).stdout)
    expect(shown).toMatchObject({
      template: { name: 'welcome', language: 'de', version: 1 },
      tags: ['welcome', 'onboarding'],
      priority: 'high',
      recipients: ['ann@example.com', 'bob@example.com'],
    })

    // An edit makes a new version; the queued message keeps the one it was rendered with.
    ok(
      await cli(
        'templates',
        'edit',
        'welcome',
        '--language',
        'de',
        '--html',
        '<p>Neu: {{ name }}</p>',
      ),
    )
    expect(
      json<{ template: unknown }>(ok(await cli('show', result.id, '--json')).stdout).template,
    ).toEqual({
      name: 'welcome',
      language: 'de',
      version: 1,
    })

    expect(ok(await cli('send')).stdout).toBe('sent 1, failed 0, deferred 0\n')
    await sink.waitFor(1, 10_000)
    const mail = await PostalMime.parse(sink.messages[0]!.raw)
    expect(mail.subject).toBe('Willkommen, Ann')
    expect(mail.from).toMatchObject({ address: 'shop@example.com', name: 'Shop' })
    expect(mail.html).toContain(
      '<p>Hallo <b>Ann</b>, Sie haben 1.234,5 Punkte seit 5. März 2026.</p>',
    )
    expect(mail.text).toContain('Hallo Ann, Sie haben 1.234,5 Punkte seit 5. März 2026.')
    expect(sink.messages[0]!.to).toEqual(['ann@example.com', 'bob@example.com'])

    // A new message gets version 2; human output says which; the sender from templates.from.
    const second = ok(
      await cliEnv(
        { OUTBOX_TEMPLATES_FROM: 'news@example.com' },
        'send-template',
        'welcome',
        '--to',
        'carl@example.com',
        '--language',
        'de',
        '--context',
        '{"name":"Carl","points":1,"since":"2026-03-05T10:00:00Z"}',
      ),
    )
    expect(second.stdout).toMatch(/^queued (\S+) from template welcome \(de, version 2\)\n$/)
    const secondId = /^queued (\S+)/.exec(second.stdout)![1]!
    expect(json<{ from: string }>(ok(await cli('show', secondId, '--json')).stdout).from).toBe(
      'news@example.com',
    )
  })

  it('takes the context from standard input, waits for --send-at, and stores once per idempotency key', async () => {
    await addWelcome()
    const args = [
      'send-template',
      'welcome',
      '--to',
      'ann@example.com',
      '--from',
      'shop@example.com',
    ]
    const piped = await cliWithInput(
      [
        ...args,
        '--language',
        'en',
        '--context-file',
        '-',
        '--send-at',
        '2h',
        '--idempotency-key',
        'welcome-ann',
        '--json',
      ],
      '{"name":"Ann","points":2,"since":"2026-03-05T10:00:00Z"}',
    )
    const first = json<{ id: string; duplicate: boolean; template: { language: string } }>(
      ok(piped).stdout,
    )
    // No language asked and no default configured: the template has two, so one must be named.
    expect(
      refused(
        await cli(...args, '--context', '{"name":"Ann","points":2,"since":"2026-03-05T10:00:00Z"}'),
      ),
    ).toContain('is in de, en')
    const shown = json<{ dueAt: string }>(ok(await cli('show', first.id, '--json')).stdout)
    expect(new Date(shown.dueAt).getTime()).toBeGreaterThan(Date.now() + 60 * 60_000)
    // With a default language, no --language is needed.
    const again = ok(
      await cliEnv(
        { OUTBOX_TEMPLATES_DEFAULT_LANGUAGE: 'en' },
        ...args,
        '--context',
        '{"name":"Ann","points":2,"since":"2026-03-05T10:00:00Z"}',
        '--idempotency-key',
        'welcome-ann',
      ),
    )
    expect(again.stdout).toBe(
      `${first.id} already queued from template welcome (en, version 1): the idempotency key was used before, nothing new was stored\n`,
    )
    expect(first.template.language).toBe('en')
    expect(ok(await cli('send')).stdout).toBe('sent 0, failed 0, deferred 0\n')
  })

  it('refuses bad input with exit code 2 and one line, storing nothing', async () => {
    await addWelcome()
    const send = (...args: string[]) =>
      cli('send-template', 'welcome', '--from', 'shop@example.com', '--language', 'en', ...args)
    const context = ['--context', '{"name":"Ann","points":1,"since":"2026-03-05T10:00:00Z"}']
    expect(
      refused(
        await cli('send-template', 'nope', '--to', 'a@example.com', '--from', 'shop@example.com'),
      ),
    ).toContain('No template named "nope"')
    expect(refused(await send('--to', 'a@example.com', '--context', '{"name":"Ann"}'))).toContain(
      'context.points',
    )
    expect(refused(await send('--to', 'a@example.com', '--context', '"Ann"'))).toContain(
      'expected a JSON object',
    )
    expect(refused(await send('--to', 'not an address', ...context))).toMatch(/\bto\b/)
    expect(refused(await send(...context))).toContain('no recipients')
    expect(
      refused(await send('--to', 'a@example.com', ...context, '--send-at', 'soonish')),
    ).toContain('--send-at "soonish"')
    // Commander's own refusals add a line pointing to --help.
    const urgent = await send('--to', 'a@example.com', ...context, '--priority', 'urgent')
    expect(urgent.code).toBe(2)
    expect(urgent.stderr).toContain("argument 'urgent' is invalid")
    expect(
      refused(await send('--to', 'a@example.com', ...context, '--context-file', 'ctx.json')),
    ).toContain('give the context once')
    // No sender: neither --from nor templates.from.
    expect(
      refused(
        await cli(
          'send-template',
          'welcome',
          '--to',
          'a@example.com',
          '--language',
          'en',
          ...context,
        ),
      ),
    ).toContain('templates.from')
    const list = json<{ messages: unknown[] }>(ok(await cli('list', '--json')).stdout)
    expect(list.messages).toEqual([])
  })
})

describe('help', () => {
  it('lists the template commands', async () => {
    const help = ok(await cli('--help'))
    expect(help.stdout).toMatch(/^\s+send-template \[options\] <name>/m)
    expect(help.stdout).toMatch(/^\s+templates\s/m)
    const sub = ok(await cli('templates', '--help'))
    for (const command of ['list', 'show', 'add', 'edit', 'remove', 'render', 'sync']) {
      expect(sub.stdout).toMatch(new RegExp(`^\\s+${command}\\b`, 'm'))
    }
    expect(ok(await cli('templates', 'show', '--help')).stdout).toContain('--version <n>')
    // The program's --version still prints the version.
    const version = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as {
      version: string
    }
    expect(ok(await cli('--version')).stdout).toBe(`${version.version}\n`)
    expect(ok(await cli('list', '--version')).stdout).toBe(`${version.version}\n`)
  })
})
