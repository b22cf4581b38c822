import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import PostalMime from 'postal-mime'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createOutbox, type Outbox } from '../../src/index.js'
import {
  dropSchemas,
  POSTGRES_URL,
  postgresAvailable,
  postgresStoreUrl,
  uniqueSchema,
} from '../helpers/postgres.js'
import { cleanEnv, killStartedCli, startCli } from '../helpers/run-cli.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'
import { sleep, waitUntil } from '../helpers/temp.js'

// integrations/django (outbox_django.Backend) run by Debian's Python with Debian's Django and
// psycopg2, against this machine's PostgreSQL, delivered by real `outbox worker` processes.

/**
 * Debian's Python, which has python3-django and python3-psycopg2 (not pyenv's, first on the
 * PATH here), or OUTBOX_TEST_DJANGO_PYTHON.
 */
const PYTHON = process.env.OUTBOX_TEST_DJANGO_PYTHON ?? '/usr/bin/python3'
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const PACKAGE = join(ROOT, 'integrations', 'django')
const RUNNER = join(ROOT, 'test', 'fixtures', 'django_run.py')

/**
 * Whether Debian's Python with Django and psycopg2 is there. In CI (CI=true) a missing one fails
 * the run loudly (`.ci/run` installs them); elsewhere these tests are skipped with the reason.
 */
function djangoAvailable(): boolean {
  let reason: string | null = null
  if (!existsSync(PYTHON)) {
    reason = `${PYTHON} does not exist`
  } else {
    const probe = spawnSync(
      PYTHON,
      ['-c', 'import django, psycopg2; print(django.get_version(), psycopg2.__version__)'],
      { encoding: 'utf8', timeout: 30_000 },
    )
    if (probe.status !== 0) {
      reason = `${PYTHON} cannot import django and psycopg2: ${(probe.stderr || String(probe.error)).trim()}`
    }
  }
  if (reason === null) return true
  const ci = process.env.CI
  if (ci && ci !== 'false' && ci !== '0') {
    throw new Error(`${reason}. CI needs python3-django and python3-psycopg2 (see .ci/run).`)
  }
  console.warn(
    `SKIPPING Django integration tests: ${reason} (apt-get install python3-django python3-psycopg2)`,
  )
  return false
}

const available = (await postgresAvailable()) && djangoAvailable()

/** Django's DATABASES entry for the tests' PostgreSQL. */
function postgresDatabase(): Record<string, string> {
  const url = new URL(POSTGRES_URL)
  return {
    ENGINE: 'django.db.backends.postgresql',
    NAME: decodeURIComponent(url.pathname.slice(1)),
    USER: decodeURIComponent(url.username),
    PASSWORD: decodeURIComponent(url.password),
    HOST: url.hostname,
    PORT: url.port || '5432',
  }
}

interface PythonRun {
  code: number | null
  stdout: string
  stderr: string
  /** The JSON lines the snippet printed with report(). */
  reports: Record<string, unknown>[]
}

const pythons = new Set<ChildProcess>()

/** Runs a snippet in Django configured with `settings` (see test/fixtures/django_run.py). */
function runDjango(
  config: { databases?: Record<string, unknown>; settings?: Record<string, unknown> },
  snippet: string,
  timeoutMs = 60_000,
): Promise<PythonRun> {
  return new Promise((resolve, reject) => {
    const databases = config.databases ?? { default: postgresDatabase() }
    const child = spawn(
      PYTHON,
      [RUNNER, JSON.stringify({ databases, settings: config.settings ?? {} })],
      {
        env: cleanEnv({
          PYTHONPATH: PACKAGE,
          PYTHONDONTWRITEBYTECODE: '1',
          PYTHONIOENCODING: 'utf-8',
        }),
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    )
    pythons.add(child)
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`python did not finish within ${timeoutMs} ms\n${stdout}\n${stderr}`))
    }, timeoutMs)
    child.on('close', (code) => {
      clearTimeout(timer)
      pythons.delete(child)
      const reports = stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>)
      resolve({ code, stdout, stderr, reports })
    })
    child.stdin.end(snippet)
  })
}

/** Runs a snippet that must succeed; returns its reports. */
async function django(
  settings: Record<string, unknown>,
  snippet: string,
  databases?: Record<string, unknown>,
): Promise<Record<string, unknown>[]> {
  const run = await runDjango({ settings, databases }, snippet)
  if (run.code !== 0)
    throw new Error(`python exited with ${run.code}:\n${run.stdout}\n${run.stderr}`)
  return run.reports
}

const schemas: string[] = []
const appSchema = uniqueSchema('djapp')
let cwd: string | null = null
let sink: SmtpSink | null = null
let outbox: Outbox | null = null
let app: pg.Client | null = null

beforeAll(async () => {
  if (!available) return
  app = new pg.Client({ connectionString: POSTGRES_URL })
  await app.connect()
  await app.query(`CREATE SCHEMA "${appSchema}"`)
  await app.query(`CREATE TABLE "${appSchema}".orders (id text PRIMARY KEY)`)
})
afterEach(async () => {
  killStartedCli()
  for (const child of pythons) child.kill('SIGKILL')
  pythons.clear()
  await outbox?.close()
  outbox = null
  await sink?.close()
  sink = null
  if (cwd) rmSync(cwd, { recursive: true, force: true })
  cwd = null
})
afterAll(async () => {
  if (!available) return
  await app?.end()
  await dropSchemas([...schemas, appSchema])
})

/** A private Outbox schema (created and migrated by opening it), a sink and a temp folder. */
async function setup(): Promise<{ schema: string; store: string; outbox: Outbox; sink: SmtpSink }> {
  const schema = uniqueSchema('django')
  schemas.push(schema)
  const store = postgresStoreUrl(schema)
  cwd = mkdtempSync(join(tmpdir(), 'outbox-django-'))
  sink = await createSmtpSink()
  outbox = await createOutbox({ store })
  return { schema, store, outbox, sink }
}

/** Starts a real `outbox worker` process on the store, delivering to the sink. */
async function startWorker(store: string): Promise<ChildProcess> {
  const worker = await startCli(['worker'], {
    cwd: cwd!,
    env: { OUTBOX_STORE: store, OUTBOX_UPSTREAM: sink!.url },
    readyText: 'outbox worker:',
  })
  return worker.child
}

/** Stops a worker with SIGTERM and waits for it to exit. */
async function stopWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

async function orders(): Promise<string[]> {
  const { rows } = await app!.query<{ id: string }>(
    `SELECT id FROM "${appSchema}".orders ORDER BY id`,
  )
  return rows.map((r) => r.id)
}

async function storedCount(o: Outbox): Promise<number> {
  return Object.values(await o.admin.countByStatus()).reduce((a, b) => a + b, 0)
}

/**
 * Submissions enqueue() stored that no Outbox process has moved into the queue yet (it moves
 * each one, in a transaction deleting it, or keeps it with an error).
 */
async function submissions(schema: string): Promise<number> {
  const { rows } = await app!.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM "${schema}".submissions`,
  )
  return rows[0]!.n
}

const subjectOf = (raw: Buffer): string => /^subject: (.*)$/im.exec(raw.toString())![1]!.trim()

/** A line of Python inserting an order row on Django's connection. */
const insertOrder = (id: string) =>
  `connection.cursor().execute('INSERT INTO "${appSchema}".orders VALUES (%s)', [${JSON.stringify(id)}])`

describe.skipIf(!available)('Django backend outbox_django.Backend (PostgreSQL, SQL mode)', () => {
  it('send_mail in a committed atomic() block is stored at commit, with the data, and a worker delivers it', async () => {
    const { schema, store, sink } = await setup()
    const worker = await startWorker(store)
    const order = `order-${schema}-committed`
    const [inside, after] = await django(
      { OUTBOX_SCHEMA: schema },
      `
from django.db import connections
observer = connections['observer']
def visible():
    with observer.cursor() as cursor:
        # Waiting submissions and queued messages: one statement, one snapshot.
        cursor.execute('SELECT (SELECT count(*) FROM "${schema}".submissions) + (SELECT count(*) FROM "${schema}".messages)')
        return cursor.fetchone()[0]
with transaction.atomic():
    ${insertOrder(order)}
    sent = mail.send_mail('Order received', 'Thank you for your order.', 'Shop <shop@example.com>', ['alice@example.com'])
    report(sent=sent, inAtomic=connection.in_atomic_block, visibleToOthers=visible())
report(visibleToOthers=visible())
`,
      // A second connection to the same database, to look from outside the transaction.
      { default: postgresDatabase(), observer: postgresDatabase() },
    )
    // Nothing seen by another session (nor the worker) until the caller commits.
    expect(inside).toEqual({ sent: 1, inAtomic: true, visibleToOthers: 0 })
    expect(after).toEqual({ visibleToOthers: 1 })
    await sink.waitFor(1, 30_000)
    const [message] = sink.messages
    expect(message!.from).toBe('shop@example.com')
    expect(message!.to).toEqual(['alice@example.com'])
    expect(subjectOf(message!.raw)).toBe('Order received')
    expect(await orders()).toContain(order)
    expect(await submissions(schema)).toBe(0)
    await stopWorker(worker)
  })

  it('send_mail in a rolled-back atomic() block is never stored nor sent', async () => {
    const { schema, store, outbox, sink } = await setup()
    const worker = await startWorker(store)
    const reports = await django(
      { OUTBOX_SCHEMA: schema },
      `
class Boom(Exception):
    pass
try:
    with transaction.atomic():
        ${insertOrder(`order-${schema}-rolled-back`)}
        report(step='inside', sent=mail.send_mail('rolled back', 'x', 'shop@example.com', ['bob@example.com']))
        raise Boom()
except Boom:
    report(step='rolled back')
with transaction.atomic():
    ${insertOrder(`order-${schema}-committed`)}
    report(step='committed', sent=mail.send_mail('committed', 'x', 'shop@example.com', ['bob@example.com']))
`,
    )
    expect(reports).toEqual([
      { step: 'inside', sent: 1 },
      { step: 'rolled back' },
      { step: 'committed', sent: 1 },
    ])
    // The committed one arrives; then, after a generous wait, still nothing else.
    await sink.waitFor(1, 30_000)
    await sleep(2000)
    expect(sink.messages.map((m) => subjectOf(m.raw))).toEqual(['committed'])
    await waitUntil(
      async () => (await outbox.admin.countByStatus()).sent === 1,
      15_000,
      'the committed message recorded as sent',
    )
    const counts = await outbox.admin.countByStatus()
    expect(await storedCount(outbox)).toBe(1)
    expect(counts.queued + counts.deferred + counts.sending).toBe(0)
    expect((await outbox.admin.list({ subject: 'rolled back' })).messages).toHaveLength(0)
    const mine = (await orders()).filter((id) => id.includes(schema))
    expect(mine).toEqual([`order-${schema}-committed`])
    await stopWorker(worker)
  })

  it('an attachment, a non-ASCII subject, body and names arrive intact; cc and bcc are in the envelope only', async () => {
    const { schema, store, outbox, sink } = await setup()
    const worker = await startWorker(store)
    const attachment = randomBytes(20 * 1024)
    const file = join(cwd!, 'attachment.bin')
    writeFileSync(file, attachment)
    const subject = 'Grüße — 東京 ✓'
    const body = 'Hallo Jürgen,\n\nvielen Dank für Ihre Bestellung — 東京 ✓\n'
    const [result] = await django(
      { OUTBOX_SCHEMA: schema },
      `
with open(${JSON.stringify(file)}, 'rb') as f:
    data = f.read()
message = mail.EmailMessage(
    subject=${JSON.stringify(subject)},
    body=${JSON.stringify(body)},
    from_email='Jürgen Müller <shop@example.com>',
    to=['Zoë Ångström <zoe@example.com>'],
    cc=['cc@example.com'],
    bcc=['hidden@example.com'],
)
message.attach('bericht-ü.bin', data, 'application/octet-stream')
report(sent=message.send(), id=message.outbox_id, autocommit=connection.get_autocommit())
`,
    )
    expect(result).toMatchObject({ sent: 1, autocommit: true })
    await sink.waitFor(1, 30_000)
    const [received] = sink.messages
    expect(received!.from).toBe('shop@example.com')
    expect(received!.to).toEqual(['zoe@example.com', 'cc@example.com', 'hidden@example.com'])
    expect(received!.raw.toString('latin1')).not.toContain('hidden@example.com')

    const parsed = await PostalMime.parse(received!.raw)
    expect(parsed.subject).toBe(subject)
    // postal-mime keeps the line break before a part's boundary in the text: compared trimmed,
    // and the body's bytes, as Django wrote them (UTF-8, 8bit, CRLF), checked in the raw message.
    expect(parsed.text!.replace(/\r\n/g, '\n').trimEnd()).toBe(body.trimEnd())
    expect(received!.raw.includes(Buffer.from(body.replace(/\n/g, '\r\n'), 'utf8'))).toBe(true)
    expect(parsed.from).toMatchObject({ name: 'Jürgen Müller', address: 'shop@example.com' })
    expect(parsed.to).toEqual([{ name: 'Zoë Ångström', address: 'zoe@example.com' }])
    expect(parsed.cc).toEqual([{ name: '', address: 'cc@example.com' }])
    expect(parsed.attachments).toHaveLength(1)
    const [attached] = parsed.attachments
    expect(attached!.filename).toBe('bericht-ü.bin')
    expect(attached!.mimeType).toBe('application/octet-stream')
    const content = attached!.content
    const bytes =
      typeof content === 'string'
        ? Buffer.from(content, 'base64')
        : Buffer.from(content as ArrayBuffer)
    expect(bytes.equals(attachment)).toBe(true)

    // The queue id Django got back is the stored message.
    const stored = await outbox.admin.getMessage(String(result!.id))
    expect(stored.subject).toBe(subject)
    expect(stored.recipients).toEqual(['zoe@example.com', 'cc@example.com', 'hidden@example.com'])
    await stopWorker(worker)
  })

  it('a bad address: the Python side gets the database error and nothing is stored; fail_silently counts it out and leaves the transaction usable', async () => {
    const { schema, store, outbox, sink } = await setup()
    const worker = await startWorker(store)
    const reports = await django(
      { OUTBOX_SCHEMA: schema },
      `
from django.db import DatabaseError
try:
    mail.send_mail('bad', 'x', 'shop@example.com', ['nobody'])
    report(raised=None)
except DatabaseError as error:
    report(raised=describe(error))
report(silent=mail.send_mail('bad', 'x', 'shop@example.com', ['nobody'], fail_silently=True))
with transaction.atomic():
    ${insertOrder(`order-${schema}-before`)}
    report(inAtomic=mail.send_mail('bad', 'x', 'shop@example.com', ['nobody'], fail_silently=True))
    ${insertOrder(`order-${schema}-after`)}
with transaction.atomic():
    try:
        mail.send_mail('bad', 'x', 'shop@example.com', ['nobody'])
    except DatabaseError as error:
        report(caughtInAtomic=describe(error)['pgcode'])
    ${insertOrder(`order-${schema}-caught`)}
good = lambda subject: mail.EmailMessage(subject, 'x', 'shop@example.com', ['ok@example.com'])
bad = mail.EmailMessage('bad', 'x', 'shop@example.com', ['nobody'])
report(batch=mail.get_connection(fail_silently=True).send_messages([good('one'), bad, good('two')]))
`,
    )
    expect(reports).toHaveLength(5)
    const raised = reports[0]!.raised as Record<string, string>
    expect(raised).not.toBeNull()
    // Django's wrapper of the driver's error, with the SQLSTATE and the field outbox.enqueue names.
    expect(raised.type).toMatch(/^django\.db\.utils\./)
    expect(raised.cause).toMatch(/^psycopg2\./)
    expect(raised.pgcode).toBe('OB001')
    expect(raised.message).toMatch(/rcpt_to\[1\]/)
    expect(raised.message).toContain('"nobody"')
    expect(reports.slice(1)).toEqual([
      { silent: 0 },
      { inAtomic: 0 },
      { caughtInAtomic: 'OB001' },
      { batch: 2 },
    ])
    // Only the two good messages of the batch were stored (and sent); the transactions in which
    // a refused one failed silently, or raised and was caught, went on and committed (savepoints).
    await sink.waitFor(2, 30_000)
    await sleep(1000)
    expect(sink.messages.map((m) => subjectOf(m.raw)).sort()).toEqual(['one', 'two'])
    expect((await outbox.admin.list()).messages.map((m) => m.subject).sort()).toEqual([
      'one',
      'two',
    ])
    expect(await submissions(schema)).toBe(0)
    const mine = (await orders()).filter((id) => id.includes(schema))
    expect(mine).toEqual([
      `order-${schema}-after`,
      `order-${schema}-before`,
      `order-${schema}-caught`,
    ])
    await stopWorker(worker)
  })

  it('OUTBOX_PRIORITY and OUTBOX_TAGS apply to every message; outbox_* attributes override the priority, add tags, and stay out of the headers', async () => {
    const { schema, store, outbox, sink } = await setup()
    const worker = await startWorker(store)
    const [result] = await django(
      { OUTBOX_SCHEMA: schema, OUTBOX_PRIORITY: 'low', OUTBOX_TAGS: ['django', 'shop'] },
      `
import datetime
from django.utils import timezone
plain = mail.EmailMessage('defaults', 'x', 'shop@example.com', ['a@example.com'])
plain.send()
def receipt():
    message = mail.EmailMessage('overrides', 'x', 'shop@example.com', ['b@example.com'])
    message.outbox_priority = 'high'
    message.outbox_tags = ['receipt']
    message.outbox_idempotency_key = 'order-42-receipt'
    message.outbox_send_at = timezone.now() + datetime.timedelta(hours=2)
    message.send()
    return message.outbox_id
first = receipt()
again = receipt()
report(plain=plain.outbox_id, first=first, again=again)
`,
    )
    const { plain, first, again } = result as Record<string, string>
    expect(again).toBe(first)
    // The worker moves both into the queue and sends the one that is due.
    await sink.waitFor(1, 30_000)
    await waitUntil(async () => (await storedCount(outbox)) === 2, 15_000, 'both messages queued')
    expect(await submissions(schema)).toBe(0)
    expect(await outbox.admin.getMessage(plain!)).toMatchObject({
      priority: 'low',
      tags: ['django', 'shop'],
      idempotencyKey: null,
    })
    const receipt = await outbox.admin.getMessage(first!)
    expect(receipt).toMatchObject({
      priority: 'high',
      tags: ['django', 'shop', 'receipt'],
      idempotencyKey: 'order-42-receipt',
    })
    const inTwoHours = Date.now() + 2 * 3600_000
    expect(Math.abs(receipt.dueAt!.getTime() - inTwoHours)).toBeLessThan(120_000)
    const raw = (await outbox.admin.getRaw(first!)).toString('latin1')
    const headers = raw.slice(0, raw.indexOf('\r\n\r\n'))
    expect(headers).not.toMatch(/order-42|receipt/i)
    await sleep(1000)
    expect(sink.messages.map((m) => subjectOf(m.raw))).toEqual(['defaults'])
    expect(await storedCount(outbox)).toBe(2)
    await stopWorker(worker)
  })

  it('a Django role with USAGE on the schema and EXECUTE on enqueue() only can send, and cannot read the queue', async () => {
    const { schema, store, outbox, sink } = await setup()
    const role = uniqueSchema('djrole')
    await app!.query(`CREATE ROLE "${role}" LOGIN`)
    try {
      await app!.query(`GRANT USAGE ON SCHEMA "${schema}" TO "${role}"`)
      await app!.query(
        `GRANT EXECUTE ON FUNCTION "${schema}".enqueue(bytea, text, text[], jsonb) TO "${role}"`,
      )
      const worker = await startWorker(store)
      const run = await runDjango(
        {
          databases: { default: { ...postgresDatabase(), USER: role, PASSWORD: '' } },
          settings: { OUTBOX_SCHEMA: schema },
        },
        `
from django.db import DatabaseError
report(sent=mail.send_mail('least privilege', 'x', 'shop@example.com', ['a@example.com']))
try:
    connection.cursor().execute('SELECT count(*) FROM "${schema}".messages')
    report(read=True)
except DatabaseError as error:
    report(read=str(error).splitlines()[0])
`,
      )
      expect(run.stderr).toBe('')
      expect(run.reports).toHaveLength(2)
      expect(run.reports[0]).toEqual({ sent: 1 })
      expect(String(run.reports[1]!.read)).toMatch(/permission denied for table messages/)
      await sink.waitFor(1, 30_000)
      expect(subjectOf(sink.messages[0]!.raw)).toBe('least privilege')
      expect(await storedCount(outbox)).toBe(1)
      await stopWorker(worker)
    } finally {
      await app!.query(`DROP OWNED BY "${role}"`)
      await app!.query(`DROP ROLE "${role}"`)
    }
  })

  it('refuses a bad setting or a database other than PostgreSQL with ImproperlyConfigured whatever fail_silently says, a schema without Outbox unless fail_silently', async () => {
    const { schema, outbox } = await setup()
    const missing = uniqueSchema('nothere')
    const run = await runDjango(
      {
        databases: {
          default: postgresDatabase(),
          lite: { ENGINE: 'django.db.backends.sqlite3', NAME: ':memory:' },
        },
        settings: { OUTBOX_SCHEMA: schema },
      },
      `
from django.core.exceptions import ImproperlyConfigured
def attempt(name, **options):
    try:
        sent = mail.get_connection(fail_silently=True, **options).send_messages(
            [mail.EmailMessage('x', 'x', 'shop@example.com', ['a@example.com'])])
        report(case=name, sent=sent)
    except ImproperlyConfigured as error:
        report(case=name, error=str(error))
attempt('injection', schema='outbox"; DROP SCHEMA public; --')
attempt('upper case', schema='Outbox')
attempt('priority', priority='urgent')
attempt('tags', tags='django')
attempt('alias', using='nope')
attempt('sqlite', using='lite')
try:
    mail.send_mail('x', 'x', 'shop@example.com', ['a@example.com'], connection=mail.get_connection(schema='${missing}'))
except ImproperlyConfigured as error:
    report(case='not migrated', error=str(error))
attempt('not migrated, silently', schema='${missing}')
`,
    )
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    const byCase: Record<string, Record<string, unknown>> = Object.fromEntries(
      run.reports.map((r) => [String(r.case), r]),
    )
    expect(byCase['injection']!.error).toMatch(/OUTBOX_SCHEMA .* lower-case identifier/)
    expect(byCase['upper case']!.error).toMatch(/OUTBOX_SCHEMA/)
    expect(byCase['priority']!.error).toMatch(
      /OUTBOX_PRIORITY 'urgent' is not one of now, high, normal, low/,
    )
    expect(byCase['tags']!.error).toMatch(/OUTBOX_TAGS must be a list of strings/)
    expect(byCase['alias']!.error).toMatch(/OUTBOX_DATABASE 'nope'/)
    expect(byCase['sqlite']!.error).toMatch(
      /only PostgreSQL .* 'lite' is sqlite\. Use the SMTP mode/,
    )
    expect(byCase['not migrated']!.error).toMatch(
      new RegExp(`enqueue\\(\\) function is not in schema '${missing}'.*\`outbox migrate\``),
    )
    expect(byCase['not migrated, silently']).toEqual({ case: 'not migrated, silently', sent: 0 })
    expect(await storedCount(outbox)).toBe(0)
    expect(await submissions(schema)).toBe(0)
    const { rows } = await app!.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [missing])
    expect(rows).toHaveLength(0)
  })
})

describe.skipIf(!available)('Django SMTP mode (any database)', () => {
  it("Django's own SMTP backend pointed at Outbox's listener queues the message, and Outbox delivers it", async () => {
    cwd = mkdtempSync(join(tmpdir(), 'outbox-django-smtp-'))
    sink = await createSmtpSink()
    const store = `sqlite:${join(cwd, 'queue.db')}`
    const daemon = await startCli(['start'], {
      cwd,
      env: {
        OUTBOX_STORE: store,
        OUTBOX_UPSTREAM: sink.url,
        OUTBOX_SMTP_LISTEN: '127.0.0.1:0',
        OUTBOX_HTTP_LISTEN: 'none',
      },
      readyText: 'outbox start',
    })
    const port = Number(/SMTP on 127\.0\.0\.1:(\d+)/.exec(daemon.output())![1])
    const [result] = await django(
      {
        EMAIL_BACKEND: 'django.core.mail.backends.smtp.EmailBackend',
        EMAIL_HOST: '127.0.0.1',
        EMAIL_PORT: port,
        EMAIL_USE_TLS: false,
      },
      `report(sent=mail.send_mail('Grüße über SMTP', 'Hallo — ✓', 'shop@example.com', ['a@example.com']))`,
      // Any database: this mode needs none of Outbox's SQL.
      { default: { ENGINE: 'django.db.backends.sqlite3', NAME: ':memory:' } },
    )
    expect(result).toEqual({ sent: 1 })
    await sink.waitFor(1, 30_000)
    const parsed = await PostalMime.parse(sink.messages[0]!.raw)
    expect(parsed.subject).toBe('Grüße über SMTP')
    expect(parsed.text!.trim()).toBe('Hallo — ✓')
    const exited = new Promise((resolve) => daemon.child.once('exit', resolve))
    daemon.child.kill('SIGTERM')
    await exited
  })
})
