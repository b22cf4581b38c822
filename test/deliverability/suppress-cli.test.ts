import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createOutbox, type Outbox } from '../../src/index.js'
import { CLI, cleanEnv, runCli, type CliResult } from '../helpers/run-cli.js'

let cwd: string
let store: string
let outbox: Outbox
beforeEach(async () => {
  cwd = mkdtempSync(join(tmpdir(), 'outbox-suppress-'))
  store = `sqlite:${join(cwd, 'queue.db')}`
  // The queue exists before the commands run: they refuse to create one from a mistyped path.
  outbox = await createOutbox({ store })
})
afterEach(async () => {
  await outbox.close()
  rmSync(cwd, { recursive: true, force: true })
})

const cli = (...args: string[]) =>
  runCli(args, { cwd, env: { OUTBOX_STORE: store }, timeoutMs: 60_000 })
/** `outbox ARGS…` reading `input` on standard input. */
function cliWithInput(args: string[], input: Buffer): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd,
      env: cleanEnv({ OUTBOX_STORE: store }),
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(input)
  })
}
const json = <T>(text: string) => JSON.parse(text) as T

interface Page {
  entries: { address: string; reason: string; reply: string | null; messageId: string | null }[]
  nextCursor: string | null
  total: number
}

describe('outbox suppress add, list, remove, export', () => {
  it('round-trips through a real SQLite file', async () => {
    const added = await cli(
      'suppress',
      'add',
      '  Ann@Example.COM ',
      'bob@example.org',
      '--note',
      'asked us to stop',
      '--json',
    )
    expect(added.code, added.stderr).toBe(0)
    expect(json(added.stdout)).toEqual({
      added: ['ann@example.com', 'bob@example.org'],
      existing: [],
    })

    // Already on the list: kept as it was, and said so.
    const again = await cli('suppress', 'add', 'ANN@example.com', '--reason', 'bounced')
    expect(again).toMatchObject({ code: 0 })
    expect(again.stdout).toContain('added 0 addresses')
    expect(again.stdout).toContain('ann@example.com was already on the list')

    const listed = await cli('suppress', 'list', '--json')
    expect(listed.code).toBe(0)
    const page = json<Page>(listed.stdout)
    expect(page.total).toBe(2)
    expect(page.entries.map((e) => [e.address, e.reason, e.reply])).toEqual([
      ['ann@example.com', 'manual', 'asked us to stop'],
      ['bob@example.org', 'manual', 'asked us to stop'],
    ])
    const table = await cli('suppress', 'list', '--search', 'EXAMPLE.ORG')
    expect(table.stdout).toMatch(/^ADDRESS\s+REASON\s+AGE\s+MESSAGE\s+REPLY\n/)
    expect(table.stdout).toContain('bob@example.org')
    expect(table.stdout).not.toContain('ann@example.com')
    expect(table.stdout).toContain('1 of 1')

    // The library sees what the CLI stored.
    expect(await outbox.admin.suppressions.count()).toBe(2)

    const exportPath = join(cwd, 'list.csv')
    const exported = await cli('suppress', 'export', exportPath)
    expect(exported.code, exported.stderr).toBe(0)
    expect(exported.stderr).toContain('exported 2 addresses')
    expect(statSync(exportPath).mode & 0o777).toBe(0o600)
    const csv = readFileSync(exportPath, 'utf8').split('\n')
    expect(csv[0]).toBe('address,reason,reply,message,created_at')
    expect(csv[1]).toMatch(/^ann@example\.com,manual,asked us to stop,,\d{4}-\d\d-\d\dT/)
    const lines = await cli('suppress', 'export', '--format', 'json')
    expect(
      lines.stdout
        .trim()
        .split('\n')
        .map((l) => json<{ address: string }>(l).address),
    ).toEqual(['ann@example.com', 'bob@example.org'])

    const removed = await cli('suppress', 'remove', 'bob@EXAMPLE.org', 'nobody@example.com')
    // One was not on the list: reported, and the exit code says so.
    expect(removed.code).toBe(1)
    expect(removed.stdout).toBe('removed 1 address\n')
    expect(removed.stderr).toContain('nobody@example.com was not on the suppression list')
    expect((await outbox.admin.suppressions.list()).entries.map((e) => e.address)).toEqual([
      'ann@example.com',
    ])

    // The export imports back as it is, into a list that lost an entry: it comes back.
    const reimported = await cli('suppress', 'import', exportPath, '--json')
    expect(reimported.code, reimported.stderr).toBe(0)
    expect(json(reimported.stdout)).toEqual({
      records: 2,
      added: 1,
      existing: 1,
      duplicates: 0,
      skipped: [],
    })
  })

  it('refuses a bad address, storing none of the others', async () => {
    const result = await cli('suppress', 'add', 'good@example.com', 'not an address')
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('addresses[1]')
    expect(result.stderr).toContain('not an address (local@domain)')
    const reason = await cli('suppress', 'add', 'good@example.com', '--reason', 'annoying')
    expect(reason.code).toBe(2)
    expect(await outbox.admin.suppressions.count()).toBe(0)
  })
})

describe('outbox suppress import', () => {
  const ADDRESSES = 10_000
  const address = (i: number) => `user${String(i).padStart(5, '0')}@example.com`

  it('imports 10,000 addresses once; a second import changes nothing', async () => {
    const file = join(cwd, 'list.csv')
    const rows = Array.from({ length: ADDRESSES }, (_, i) =>
      i % 3 === 0 ? `${address(i)},bounced,"550 5.1.1 no such user, sorry"` : `${address(i)},,`,
    )
    writeFileSync(file, `# exported from our CRM\nEmail,Reason,Reply\n${rows.join('\r\n')}\r\n`)

    const first = await cli('suppress', 'import', file, '--json')
    expect(first.code, first.stderr).toBe(0)
    expect(json(first.stdout)).toEqual({
      records: ADDRESSES,
      added: ADDRESSES,
      existing: 0,
      duplicates: 0,
      skipped: [],
    })
    const page = json<Page>((await cli('suppress', 'list', '--limit', '1000', '--json')).stdout)
    expect(page.total).toBe(ADDRESSES)
    expect(page.entries).toHaveLength(1000)
    expect(page.entries[0]).toMatchObject({
      address: address(0),
      reason: 'bounced',
      reply: '550 5.1.1 no such user, sorry',
    })
    expect(page.entries[1]).toMatchObject({ address: address(1), reason: 'manual', reply: null })

    // Every page, followed to the end, holds every address once.
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const next: Awaited<ReturnType<typeof outbox.admin.suppressions.list>> =
        await outbox.admin.suppressions.list({ limit: 1000, cursor })
      seen.push(...next.entries.map((e) => e.address))
      cursor = next.nextCursor
    } while (cursor)
    expect(seen).toEqual(Array.from({ length: ADDRESSES }, (_, i) => address(i)))

    const before = (await outbox.admin.suppressions.list({ limit: 5 })).entries
    const second = await cli('suppress', 'import', file, '--json')
    expect(second.code, second.stderr).toBe(0)
    expect(json(second.stdout)).toMatchObject({ records: ADDRESSES, added: 0, existing: ADDRESSES })
    expect(await outbox.admin.suppressions.count()).toBe(ADDRESSES)
    // Entries already on the list keep their reason, reply and time.
    expect((await outbox.admin.suppressions.list({ limit: 5 })).entries).toEqual(before)
  })

  it('stores nothing when line 5001 is bad, and names that line', async () => {
    const file = join(cwd, 'plain.txt')
    // One address per line, no header: line n holds address n.
    const lines = Array.from({ length: ADDRESSES }, (_, i) =>
      i + 1 === 5001 ? 'user05001example.com' : address(i + 1),
    )
    writeFileSync(file, `${lines.join('\n')}\n`)
    const result = await cli('suppress', 'import', file)
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('line 5001')
    expect(result.stderr).toContain('"user05001example.com"')
    expect(result.stderr).toContain('nothing was stored')
    expect(await outbox.admin.suppressions.count()).toBe(0)

    // Through standard input too, and with --skip-invalid the good lines go in.
    const skipped = await cliWithInput(
      ['suppress', 'import', '-', '--skip-invalid', '--json'],
      readFileSync(file),
    )
    expect(skipped.code).toBe(1)
    expect(json(skipped.stdout)).toMatchObject({
      records: ADDRESSES,
      added: ADDRESSES - 1,
      skipped: [{ line: 5001 }],
    })
    expect(await outbox.admin.suppressions.count()).toBe(ADDRESSES - 1)
  })

  it('says what is wrong with a file that cannot be imported', async () => {
    const noHeader = join(cwd, 'no-header.csv')
    writeFileSync(noHeader, 'a@example.com,manual\n')
    const r1 = await cli('suppress', 'import', noHeader)
    expect(r1.code).toBe(2)
    expect(r1.stderr).toContain('line 1: a CSV file needs a header row')
    const r2 = await cli('suppress', 'import', join(cwd, 'missing.csv'))
    expect(r2.code).toBe(2)
    expect(r2.stderr).toContain('cannot read')
    const latin1 = join(cwd, 'latin1.txt')
    writeFileSync(latin1, Buffer.from('ren\xe9@example.com\n', 'latin1'))
    const r3 = await cli('suppress', 'import', latin1)
    expect(r3.code).toBe(2)
    expect(r3.stderr).toContain('not UTF-8')
    expect(await outbox.admin.suppressions.count()).toBe(0)
  })
})
