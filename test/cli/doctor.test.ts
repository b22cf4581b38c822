import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SMTPServer } from 'smtp-server'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { freePort } from '../helpers/free-port.js'
import mysql from 'mysql2/promise'
import pg from 'pg'
import {
  dropSchemas,
  POSTGRES_URL,
  postgresAvailable,
  postgresStoreUrl,
} from '../helpers/postgres.js'
import {
  createTestDatabase,
  dropTestDatabases,
  mariadbAvailable,
  mariadbUrl,
} from '../helpers/mariadb.js'
import { redisServerInstalled, startRedisServer } from '../helpers/redis-server.js'
import { runCli } from '../helpers/run-cli.js'
import { startDnsStub } from '../helpers/dns-stub.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'
import { selfSignedCertificate } from '../helpers/tls-certificate.js'

interface Line {
  check: string
  status: 'ok' | 'warn' | 'fail'
  found: string
  fix?: string
}

let cwd: string
const closers: (() => Promise<void>)[] = []
/** What the DNS server on 127.0.0.1 publishes (TXT, by name); anything else is NXDOMAIN. */
let dnsRecords: Record<string, string> = {}
beforeEach(async () => {
  cwd = mkdtempSync(join(tmpdir(), 'outbox-doctor-'))
  dnsRecords = {}
  const records = dnsRecords
  const dns = await startDnsStub(records)
  dnsServer = dns.server
  closers.push(() => dns.close())
})
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
  rmSync(cwd, { recursive: true, force: true })
})

async function sink(options: Parameters<typeof createSmtpSink>[0] = {}): Promise<SmtpSink> {
  const s = await createSmtpSink(options)
  closers.push(() => s.close())
  return s
}

/** A sink that requires AUTH and refuses every login. */
async function refusingAuthSink(): Promise<number> {
  const server = new SMTPServer({
    disableReverseLookup: true,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    logger: false,
    onAuth(_auth, _session, callback) {
      callback(new Error('Invalid username or password'))
    },
  })
  server.on('error', () => {})
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return (server.server.address() as { port: number }).port
}

async function holdPort(): Promise<number> {
  const server: Server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return (server.address() as { port: number }).port
}

async function freeListen(): Promise<string[]> {
  return [
    '--smtp-listen',
    `127.0.0.1:${await freePort()}`,
    '--http-listen',
    `127.0.0.1:${await freePort()}`,
  ]
}

/** DNS for the DKIM checks: a server on 127.0.0.1 (tests look nothing up beyond this machine). */
let dnsServer = ''

async function doctor(
  args: string[],
): Promise<{ code: number | null; lines: Line[]; text: string }> {
  const env = { OUTBOX_DNS_SERVERS: dnsServer }
  const human = await runCli(['doctor', ...args], { cwd, env, timeoutMs: 40_000 })
  const json = await runCli(['doctor', '--json', ...args], { cwd, env, timeoutMs: 40_000 })
  expect(json.code).toBe(human.code)
  const parsed = JSON.parse(json.stdout) as { ok: boolean; checks: Line[] }
  expect(parsed.ok).toBe(human.code === 0)
  return { code: human.code, lines: parsed.checks, text: human.stdout + human.stderr }
}

/**
 * The SQL enqueue line of a migrated store: ok with nothing waiting, a warning for a submission
 * no worker has taken for two minutes, and one for a refused submission; warnings exit 0.
 */
async function expectSubmissionLines(
  store: string,
  table: string,
  sql: {
    enqueue(): Promise<unknown>
    age(): Promise<unknown>
    refuse(error: string): Promise<unknown>
  },
): Promise<void> {
  const check = async () => {
    const { lines, code, text } = await doctor(['--store', store, ...(await freeListen())])
    expect(code, text).toBe(0)
    return line(lines, 'store sql enqueue')
  }
  expect(await check()).toMatchObject({
    status: 'ok',
    found: '0 submission(s) waiting, none refused',
  })
  await sql.enqueue()
  await sql.age()
  const waiting = await check()
  expect(waiting.status).toBe('warn')
  expect(waiting.found).toMatch(/^1 submission\(s\) waiting, the oldest for 12\d s$/)
  expect(waiting.fix).toMatch(/start a worker/)
  await sql.refuse('options.upstream: names no configured upstream')
  expect(await check()).toMatchObject({
    status: 'warn',
    found: `1 submission(s) refused, kept in ${table}; the newest: options.upstream: names no configured upstream`,
    fix: expect.stringContaining(`FROM ${table} WHERE error IS NOT NULL`) as unknown,
  })
}

const line = (lines: Line[], check: string): Line => {
  const found = lines.find((l) => l.check === check)
  if (!found) throw new Error(`no line ${check} in ${JSON.stringify(lines, null, 2)}`)
  return found
}

describe('outbox doctor', () => {
  it('a good setup: every line ok, exit 0; --json gives the same checks', async () => {
    const store = `sqlite:${join(cwd, 'outbox.db')}`
    expect((await runCli(['migrate', '--store', store], { cwd })).code).toBe(0)
    const upstream = await sink()
    const { code, lines, text } = await doctor([
      '--store',
      store,
      '--upstream',
      upstream.url,
      ...(await freeListen()),
    ])
    expect(
      lines.filter((l) => l.status !== 'ok'),
      text,
    ).toEqual([])
    expect(code, text).toBe(0)
    expect(lines.map((l) => l.check)).toEqual([
      'config',
      'store',
      'store schema',
      'store durability',
      'upstream default',
      'dkim',
      'disk store',
      'port smtp.listen',
      'port http.listen',
    ])
    for (const l of lines) {
      expect(Object.keys(l).sort()).toEqual(['check', 'found', 'status'])
      expect(text).toContain(`ok    ${l.check}: ${l.found}`)
    }
    expect(line(lines, 'store schema').found).toMatch(/current/)
    expect(line(lines, 'store durability').found).toMatch(/journal_mode wal.*synchronous FULL/)
    expect(line(lines, 'upstream default').found).toMatch(/EHLO ok/)
  })

  it('a broken setup: each check fails (or warns) for its own reason, exit 1', async () => {
    const refused = await freePort()
    const tls = selfSignedCertificate(cwd)
    const { readFileSync } = await import('node:fs')
    const tlsSink = await sink({
      tls: { key: readFileSync(tls.key), cert: readFileSync(tls.cert) },
    })
    const authPort = await refusingAuthSink()
    const busy = await holdPort()
    const keyFile = join(cwd, 'dkim.pem')
    const generated = await runCli(
      ['dkim', 'generate', '--domain', 'example.invalid', '--selector', 's1', '--out', keyFile],
      { cwd },
    )
    expect(generated.code, generated.stderr).toBe(0)
    const password = 'not-the-right-password-42'
    const { code, lines, text } = await doctor([
      '--store',
      `sqlite:${join(cwd, 'missing.db')}`,
      '--upstream',
      `smtp://127.0.0.1:${refused}`,
      '--upstreams',
      JSON.stringify({
        tls: { url: `smtp://localhost:${tlsSink.port}` },
        auth: { url: `smtp://user:${password}@127.0.0.1:${authPort}` },
      }),
      '--dkim',
      JSON.stringify([
        { domain: 'example.invalid', selector: 's1', privateKey: `file:${keyFile}` },
      ]),
      '--smtp-listen',
      `127.0.0.1:${busy}`,
      '--http-listen',
      `127.0.0.1:${await freePort()}`,
    ])
    expect(code, text).toBe(1)
    expect(line(lines, 'config').status).toBe('ok')

    const store = line(lines, 'store')
    expect(store.status).toBe('fail')
    expect(store.found).toBe(`no queue at ${join(cwd, 'missing.db')}`)
    expect(store.fix).toMatch(/run outbox migrate or outbox start/)
    expect(lines.some((l) => l.check === 'store schema')).toBe(false)

    const down = line(lines, 'upstream default')
    expect(down.status).toBe('fail')
    expect(down.found).toMatch(/TCP connect .*ECONNREFUSED/)

    const cert = line(lines, 'upstream tls')
    expect(cert.status).toBe('fail')
    expect(cert.found).toMatch(/TLS failed: the certificate is self-signed/)

    const auth = line(lines, 'upstream auth')
    expect(auth.status).toBe('fail')
    expect(auth.found).toMatch(/AUTH failed/)
    expect(auth.found).toContain('user:***@')
    expect(text).not.toContain(password)
    expect(JSON.stringify(lines)).not.toContain(password)

    const dkim = line(lines, 'dkim example.invalid')
    expect(dkim.status).toBe('warn')
    expect(dkim.found).toMatch(/s1\._domainkey\.example\.invalid/)
    expect(dkim.fix).toMatch(/s1\._domainkey\.example\.invalid\. 3600 IN TXT "v=DKIM1; k=rsa; p=/)

    const port = line(lines, 'port smtp.listen')
    expect(port.status).toBe('warn')
    expect(port.found).toBe(`127.0.0.1:${busy} in use: is outbox already running?`)
    expect(line(lines, 'port http.listen').status).toBe('ok')
    for (const l of lines) if (l.status !== 'ok') expect(l.fix, l.check).toBeTruthy()
  })

  it('an upstream URL that skips certificate verification warns', async () => {
    const tls = selfSignedCertificate(cwd)
    const { readFileSync } = await import('node:fs')
    const tlsSink = await sink({
      tls: { key: readFileSync(tls.key), cert: readFileSync(tls.cert) },
    })
    const store = `sqlite:${join(cwd, 'outbox.db')}`
    expect((await runCli(['migrate', '--store', store], { cwd })).code).toBe(0)
    const { lines, code, text } = await doctor([
      '--store',
      store,
      '--upstreams',
      JSON.stringify({
        skip: { url: `smtp://127.0.0.1:${tlsSink.port}?tls.rejectUnauthorized=false` },
      }),
      ...(await freeListen()),
    ])
    expect(code, text).toBe(0)
    const skip = line(lines, 'upstream skip')
    expect(skip.status).toBe('warn')
    expect(skip.found).toMatch(/not verified/)
  })

  it('DKIM: the published key is ok, another key fails, no record warns (DNS on 127.0.0.1)', async () => {
    const keyFile = join(cwd, 'dkim.pem')
    const generated = await runCli(
      ['dkim', 'generate', '--domain', 'mail.example', '--selector', 's1', '--out', keyFile],
      { cwd },
    )
    expect(generated.code, generated.stderr).toBe(0)
    const upstream = await sink()
    expect(
      (await runCli(['migrate', '--store', `sqlite:${join(cwd, 'q.db')}`], { cwd })).code,
    ).toBe(0)
    const args = async () => [
      '--store',
      `sqlite:${join(cwd, 'q.db')}`,
      '--upstream',
      upstream.url,
      '--dkim',
      JSON.stringify([{ domain: 'mail.example', selector: 's1', privateKey: `file:${keyFile}` }]),
      ...(await freeListen()),
    ]
    const missing = line((await doctor(await args())).lines, 'dkim mail.example')
    expect(missing.status).toBe('warn')
    const published = /IN TXT "(.+)"$/.exec(missing.fix ?? '')?.[1]?.replace(/" "/g, '')
    expect(published, missing.fix).toMatch(/^v=DKIM1; k=rsa; p=/)

    dnsRecords['s1._domainkey.mail.example'] = published!
    const good = await doctor(await args())
    expect(line(good.lines, 'dkim mail.example').status, good.text).toBe('ok')
    expect(good.code, good.text).toBe(0)

    dnsRecords['s1._domainkey.mail.example'] =
      'v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAsomethingelse'
    const other = await doctor(await args())
    const wrong = line(other.lines, 'dkim mail.example')
    expect(wrong.status).toBe('fail')
    expect(wrong.found).toMatch(/holds another public key/)
    expect(other.code).toBe(1)
  })

  it('a config that does not load: exit 2, the config line the only failing one', async () => {
    const { code, lines } = await doctor(['--concurrency', 'lots'])
    expect(code).toBe(2)
    expect(lines).toHaveLength(1)
    expect(lines[0]!.check).toBe('config')
    expect(lines[0]!.status).toBe('fail')
    expect(lines[0]!.found).toMatch(/--concurrency = "lots" from the command line/)
  })

  describe('PostgreSQL store', async () => {
    const available = await postgresAvailable()
    if (!available && !process.env.CI)
      console.log('PostgreSQL is not reachable: the doctor PostgreSQL test is skipped')
    it.skipIf(!available)('store lines ok, with fsync and synchronous_commit', async () => {
      const schema = `doctor_${randomBytes(4).toString('hex')}`
      closers.push(() => dropSchemas([schema]))
      const store = postgresStoreUrl(schema)
      expect((await runCli(['migrate', '--store', store], { cwd })).code).toBe(0)
      const { lines, code, text } = await doctor(['--store', store, ...(await freeListen())])
      expect(code, text).toBe(0)
      expect(line(lines, 'store').status).toBe('ok')
      expect(line(lines, 'store schema').found).toMatch(/current/)
      const durability = line(lines, 'store durability')
      expect(durability.status).toBe('ok')
      expect(durability.found).toMatch(/^fsync on, synchronous_commit \w+/)
      const db = new pg.Client({ connectionString: POSTGRES_URL })
      await db.connect()
      closers.push(() => db.end())
      await expectSubmissionLines(store, `${schema}.submissions`, {
        enqueue: () =>
          db.query(
            `SELECT "${schema}".enqueue('Subject: x'::bytea, 'a@example.com', ARRAY['b@example.com'])`,
          ),
        age: () =>
          db.query(`UPDATE "${schema}".submissions SET created_at = now() - interval '2 minutes'`),
        refuse: (error) => db.query(`UPDATE "${schema}".submissions SET error = $1`, [error]),
      })
    })
  })
  describe('MariaDB store', async () => {
    const available = await mariadbAvailable()
    it.skipIf(!available)('store lines ok, with innodb_flush_log_at_trx_commit', async () => {
      const database = await createTestDatabase('doctor')
      closers.push(() => dropTestDatabases([database]))
      const store = mariadbUrl(database)
      expect((await runCli(['migrate', '--store', store], { cwd })).code).toBe(0)
      const { lines, code, text } = await doctor(['--store', store, ...(await freeListen())])
      expect(line(lines, 'store').status).toBe('ok')
      expect(line(lines, 'store schema').found).toMatch(/current/)
      // This machine's server flushes at every commit (the durable setting).
      expect(line(lines, 'store durability')).toMatchObject({
        status: 'ok',
        found: 'innodb_flush_log_at_trx_commit 1',
      })
      expect(code, text).toBe(0)
      const db = await mysql.createConnection({ uri: mariadbUrl(database) })
      closers.push(() => db.end())
      await expectSubmissionLines(store, 'outbox_submissions', {
        enqueue: () =>
          db.query(
            "CALL outbox_enqueue('Subject: x', 'a@example.com', '[\"b@example.com\"]', '{}')",
          ),
        age: () => db.query('UPDATE outbox_submissions SET created_at = created_at - 120000'),
        refuse: (error) => db.query('UPDATE outbox_submissions SET error = ?', [error]),
      })
    })
  })

  describe('Redis store', () => {
    const installed = redisServerInstalled()
    it.skipIf(!installed)(
      'fails without the append-only file, ok with it synced always',
      async () => {
        const volatile = await startRedisServer(['--appendonly', 'no', '--save', ''])
        closers.push(() => volatile.close())
        const bad = await doctor(['--store', volatile.url, ...(await freeListen())])
        expect(bad.code, bad.text).toBe(1)
        expect(line(bad.lines, 'store durability')).toMatchObject({
          status: 'fail',
          found: expect.stringMatching(/^appendonly no/) as unknown,
          fix: expect.stringMatching(/append-only file/) as unknown,
        })
        const durable = await startRedisServer()
        closers.push(() => durable.close())
        const good = await doctor(['--store', durable.url, ...(await freeListen())])
        expect(line(good.lines, 'store durability')).toMatchObject({
          status: 'ok',
          found: expect.stringMatching(/^appendonly yes, appendfsync always/) as unknown,
        })
        expect(good.code, good.text).toBe(0)
      },
    )
  })
})
