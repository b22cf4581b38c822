import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { createOutbox } from '../../src/index.js'
import {
  dropSchemas,
  POSTGRES_URL,
  postgresAvailable,
  postgresStoreUrl,
  uniqueSchema,
} from '../helpers/postgres.js'
import { createSmtpSink } from '../helpers/smtp-sink.js'
import {
  DKIM,
  expectSameAsSendRaw,
  normaliseStored,
  nowAsText,
  TRICKY_ADDRESSES,
} from '../helpers/sql-enqueue-cases.js'
import { sleep, waitUntil } from '../helpers/temp.js'

const run = promisify(execFile)
/** A row of the checks' own queries: numbers, texts, bytes. */
type Row = Record<string, unknown>
const available = await postgresAvailable()
const schemas: string[] = []
const cleanups: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})
afterAll(async () => {
  if (available) await dropSchemas(schemas)
})

async function setup(options: { dkim?: boolean } = {}) {
  const schema = uniqueSchema('sqlenq')
  schemas.push(schema)
  const sink = await createSmtpSink()
  cleanups.push(() => sink.close())
  const outbox = await createOutbox({
    store: postgresStoreUrl(schema),
    upstream: sink.url,
    upstreams: { backup: sink.url },
    ...(options.dkim ? { dkim: DKIM } : {}),
  })
  cleanups.push(() => outbox.close())
  const app = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 })
  cleanups.push(() => app.end())
  return { schema, sink, outbox, app }
}

/** Calls `schema.enqueue(…)` as any language would. */
async function sqlEnqueue(
  db: pg.Pool | pg.PoolClient,
  schema: string,
  raw: Buffer | string,
  from: string,
  to: string[],
  options: Record<string, unknown> = {},
): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT "${schema}".enqueue($1, $2, $3, $4) AS id`,
    [Buffer.from(raw), from, to, JSON.stringify(options)],
  )
  return rows[0]!.id
}

/**
 * Everything stored for one message, in every table, without what differs by nature between
 * two messages: ids, times, the random part of a generated Message-ID, the DKIM signature's
 * time and value (the signature is checked separately), and the idempotency key (the two
 * paths use their own, or the second would be a duplicate).
 */
async function storedRows(db: pg.Pool, schema: string, id: string) {
  const s = `"${schema}"`
  const rows = async (sql: string) => (await db.query<Record<string, unknown>>(sql, [id])).rows
  const normalise = normaliseStored
  const [body] = await rows(`SELECT raw FROM ${s}.message_bodies WHERE id = $1`)
  return {
    message: await rows(
      `SELECT to_jsonb(m) - 'id' - 'created_at' - 'updated_at' AS r FROM ${s}.messages m WHERE id = $1`,
    ).then((r) => r.map(({ r: row }) => JSON.parse(normalise(JSON.stringify(row))) as unknown)),
    queue: await rows(
      `SELECT to_jsonb(q) - 'id' - 'created_at' - 'updated_at' - 'due_at' - 'expires_at' - 'finished_at' AS r,
         due_at IS NULL AS no_due,
         CASE WHEN due_at > now() + interval '1 hour' THEN due_at END AS scheduled,
         round(extract(epoch FROM expires_at - greatest(coalesce(due_at, created_at), created_at))) AS max_age_s
       FROM ${s}.queue q WHERE id = $1`,
    ),
    recipients: await rows(
      `SELECT position, address, status, code, reply FROM ${s}.recipients WHERE message_id = $1 ORDER BY position`,
    ),
    tags: await rows(`SELECT tag FROM ${s}.message_tags WHERE message_id = $1 ORDER BY tag`),
    events: (
      await rows(`SELECT type, recipient, data FROM ${s}.events WHERE message_id = $1 ORDER BY id`)
    ).map(
      (event) =>
        JSON.parse(normalise(JSON.stringify(event)), (_, v: unknown) => nowAsText(v)) as unknown,
    ),
    raw: normalise((body?.raw as Buffer | undefined)?.toString('latin1') ?? '<no body>'),
  }
}

describe.skipIf(!available)('outbox.enqueue() in SQL (PostgreSQL)', () => {
  it('stores exactly what sendRaw() stores, in every table, DKIM signature included', async () => {
    const { schema, outbox, app } = await setup({ dkim: true })
    await outbox.admin.suppressions.add(['gone@example.com'])
    await expectSameAsSendRaw(outbox, {
      async inTransaction(work) {
        const client = await app.connect()
        try {
          await client.query('BEGIN')
          const result = await work(client)
          await client.query('COMMIT')
          return result
        } finally {
          client.release()
        }
      },
      sqlEnqueue: (raw, from, to, options) => sqlEnqueue(app, schema, raw, from, to, options),
      storedRows: (id) => storedRows(app, schema, id),
      async body(id) {
        const { rows } = await app.query<Row>(
          `SELECT raw FROM "${schema}".message_bodies WHERE id = $1`,
          [id],
        )
        return rows[0]!.raw as Buffer
      },
    })
  })

  it('a ROLLBACK leaves nothing to send; a COMMIT is delivered by a running worker', async () => {
    const { schema, outbox, app, sink } = await setup()
    const worker = outbox.worker()
    await worker.start()
    cleanups.push(() => worker.stop())
    const client = await app.connect()
    try {
      await client.query(
        'CREATE TABLE IF NOT EXISTS public.outbox_sql_orders (id text PRIMARY KEY)',
      )
      await client.query('BEGIN')
      await client.query('INSERT INTO public.outbox_sql_orders VALUES ($1)', [`${schema}-1`])
      const rolledBack = await sqlEnqueue(
        client,
        schema,
        'Subject: rolled back\r\n\r\nx\r\n',
        'shop@example.com',
        ['a@example.com'],
        { priority: 'now' },
      )
      await client.query('ROLLBACK')

      await client.query('BEGIN')
      await client.query('INSERT INTO public.outbox_sql_orders VALUES ($1)', [`${schema}-2`])
      const committed = await sqlEnqueue(
        client,
        schema,
        'Subject: committed\r\n\r\nx\r\n',
        'shop@example.com',
        ['a@example.com'],
      )
      await sleep(500)
      // The worker cannot see it before the commit.
      expect(sink.messages).toHaveLength(0)
      await client.query('COMMIT')
      await sink.waitFor(1, 20_000)
      await waitUntil(
        async () => (await outbox.admin.getMessage(committed)).status === 'sent',
        20_000,
        'the committed message to be recorded sent',
      )
      await expect(outbox.admin.getMessage(rolledBack)).rejects.toThrow(/No message/)
      await client.query('DELETE FROM public.outbox_sql_orders WHERE id LIKE $1', [`${schema}-%`])
    } finally {
      client.release()
    }
    // Nothing more arrives: the rolled-back one does not exist anywhere.
    await sleep(1000)
    expect(
      sink.messages.map((m) => /^subject: (.*)$/im.exec(m.raw.toString())![1]!.trim()),
    ).toEqual(['committed'])
    const left = await app.query<Row>(`SELECT count(*)::int AS n FROM "${schema}".submissions`)
    expect(left.rows[0]!.n).toBe(0)
  })

  it.each([
    ['a bad recipient', ['a@example.com', 'not an address'], {}, 'OB001', 'rcpt_to[2]'],
    ['CR/LF in the sender', ['a@example.com'], {}, 'OB001', 'mail_from'],
    ['no recipients', [], {}, 'OB001', 'rcpt_to'],
    ['an unknown option', ['a@example.com'], { sendAt: 'x' }, 'OB001', 'options.sendAt'],
    [
      'a bad send_at',
      ['a@example.com'],
      { send_at: 'next tuesday-ish' },
      'OB001',
      'options.send_at',
    ],
    [
      'a send_at without an offset',
      ['a@example.com'],
      { send_at: '2030-01-02 03:04:05' },
      'OB001',
      'options.send_at',
    ],
    ['a bad priority', ['a@example.com'], { priority: 'urgent' }, 'OB001', 'options.priority'],
    [
      'a tag with a space',
      ['a@example.com'],
      { tags: ['ok', 'not ok'] },
      'OB001',
      'options.tags[2]',
    ],
    [
      'an upstream not configured',
      ['a@example.com'],
      { upstream: 'nosuch' },
      'OB001',
      'options.upstream',
    ],
  ] as const)(
    '%s: a typed error naming the field, nothing stored',
    async (_, to, options, code, field) => {
      const { schema, outbox, app } = await setup()
      // The workers record the configured upstreams for the function's check.
      const worker = outbox.worker()
      await worker.start()
      cleanups.push(() => worker.stop())
      await waitUntil(
        async () =>
          (await app.query<Row>(`SELECT upstreams FROM "${schema}".submission_settings`)).rows[0]!
            .upstreams !== null,
        20_000,
        'the worker to record its upstreams',
      )
      const from =
        field === 'mail_from' ? 'shop@example.com\r\nBcc: x@example.com' : 'shop@example.com'
      const error = (await sqlEnqueue(
        app,
        schema,
        'Subject: x\r\n\r\nx\r\n',
        from,
        [...to],
        options,
      ).then(
        () => null,
        (e: unknown) => e,
      )) as (Error & { code?: string; column?: string }) | null
      expect(error).not.toBeNull()
      expect(error!.code).toBe(code)
      expect(error!.column).toBe(field)
      expect(error!.message).toContain(field)
      const counts = await app.query<Row>(
        `SELECT (SELECT count(*) FROM "${schema}".submissions)::int AS s, (SELECT count(*) FROM "${schema}".messages)::int AS m`,
      )
      expect(counts.rows[0]!).toEqual({ s: 0, m: 0 })
    },
  )

  it('judges addresses as sendRaw() does, character for character', async () => {
    const { schema, app } = await setup()
    const { isValidAddress } = await import('../../src/message/validate-mail.js')
    const addresses = TRICKY_ADDRESSES
    const { rows } = await app.query<{ a: string; ok: boolean }>(
      `SELECT a, "${schema}".is_valid_address(a) AS ok FROM unnest($1::text[]) AS a`,
      [addresses],
    )
    expect(rows.map((r) => [r.a, r.ok])).toEqual(addresses.map((a) => [a, isValidAddress(a)]))
    // Both verdicts occur: the list tests the check, not only one side of it.
    expect(new Set(rows.map((r) => r.ok))).toEqual(new Set([true, false]))
  })

  it('what only Outbox can check refuses that submission alone, kept with the reason', async () => {
    const { schema, outbox, app } = await setup()
    // No worker has run yet: the function does not know the upstream names.
    const ghost = await sqlEnqueue(
      app,
      schema,
      'Subject: g\r\n\r\nx\r\n',
      'shop@example.com',
      ['a@example.com'],
      { upstream: 'ghost' },
    )
    const good = await sqlEnqueue(app, schema, 'Subject: ok\r\n\r\nx\r\n', 'shop@example.com', [
      'a@example.com',
    ])
    expect(await outbox.takeSqlSubmissions()).toBe(2)
    expect((await outbox.admin.getMessage(good)).subject).toBe('ok')
    await expect(outbox.admin.getMessage(ghost)).rejects.toThrow(/No message/)
    const { rows } = await app.query<Row>(`SELECT id, error FROM "${schema}".submissions`)
    expect(rows.map((r) => r.id)).toEqual([ghost])
    expect(String(rows[0]!.error)).toMatch(/^options\.upstream: .*"ghost"/)
    // Not offered again.
    expect(await outbox.takeSqlSubmissions()).toBe(0)
  })

  it('over the size limit: OB002, nothing stored', async () => {
    const { schema, app } = await setup()
    const big = Buffer.alloc(26 * 1024 * 1024, 'a')
    const error = (await sqlEnqueue(app, schema, big, 'shop@example.com', ['a@example.com']).catch(
      (e: unknown) => e,
    )) as Error & { code?: string; column?: string }
    expect(error.code).toBe('OB002')
    expect(error.column).toBe('raw')
    expect(error.message).toMatch(/over the 26214400-byte limit/)
    const { rows } = await app.query<Row>(`SELECT count(*)::int AS n FROM "${schema}".submissions`)
    expect(rows[0]!.n).toBe(0)
  })

  it('an idempotency key returns the first id, before and after the move into the queue', async () => {
    const { schema, outbox, app } = await setup()
    // Each message stored counts as enqueued (metrics, observe()), as sendRaw()'s do; a duplicate does not.
    const enqueued: string[] = []
    cleanups.push(
      outbox.observe((event) => {
        if (event.type === 'enqueued') enqueued.push(`${event.id} ${event.priority}`)
      }),
    )
    const first = await sqlEnqueue(
      app,
      schema,
      'Subject: k\r\n\r\nx\r\n',
      'shop@example.com',
      ['a@example.com'],
      { idempotency_key: 'k-1' },
    )
    expect(
      await sqlEnqueue(
        app,
        schema,
        'Subject: k2\r\n\r\nx\r\n',
        'shop@example.com',
        ['a@example.com'],
        { idempotency_key: 'k-1' },
      ),
    ).toBe(first)
    expect(await outbox.takeSqlSubmissions()).toBe(1)
    expect(enqueued).toEqual([`${first} normal`])
    expect(
      await sqlEnqueue(
        app,
        schema,
        'Subject: k3\r\n\r\nx\r\n',
        'shop@example.com',
        ['a@example.com'],
        { idempotency_key: 'k-1' },
      ),
    ).toBe(first)
    // sendRaw() with the key finds the same message.
    const again = await outbox.sendRaw(
      { from: 'shop@example.com', to: ['a@example.com'], raw: 'Subject: k4\r\n\r\nx\r\n' },
      { idempotencyKey: 'k-1' },
    )
    expect(again).toMatchObject({ id: first, duplicate: true })
    expect(enqueued).toHaveLength(1)
    const { rows } = await app.query<Row>(`SELECT count(*)::int AS n FROM "${schema}".messages`)
    expect(rows[0]!.n).toBe(1)
  })

  it('1,000 concurrent callers from pgbench: every message stored once and delivered', async () => {
    const { schema, outbox, app, sink } = await setup()
    const dir = mkdtempSync(join(tmpdir(), 'outbox-pgbench-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const script = join(dir, 'enqueue.sql')
    // Each transaction: the app's own row and its mail, committed together (a key of its own,
    // given twice: the second call returns the first id), and a mail under one of 20 keys that
    // the callers share and race for: each of those is stored once, whoever wins.
    writeFileSync(
      script,
      `\\set n random(1, 1000000000)
\\set shared random(1, 20)
BEGIN;
INSERT INTO "${schema}_orders" VALUES (:client_id || '-' || :n);
SELECT "${schema}".enqueue(convert_to('Subject: pgbench ' || :client_id || '-' || :n || E'\\r\\n\\r\\nhello\\r\\n', 'UTF8'),
  'shop@example.com', ARRAY['c' || :client_id || '@example.com'],
  jsonb_build_object('tags', jsonb_build_array('pgbench'), 'idempotency_key', 'own-' || :client_id || '-' || :n))
  = "${schema}".enqueue(convert_to('Subject: again', 'UTF8'), 'shop@example.com', ARRAY['x@example.com'],
  jsonb_build_object('idempotency_key', 'own-' || :client_id || '-' || :n)) AS same;
SELECT "${schema}".enqueue(convert_to(E'Subject: shared\\r\\n\\r\\nhello\\r\\n', 'UTF8'), 'shop@example.com',
  ARRAY['shared@example.com'], jsonb_build_object('idempotency_key', 'shared-' || :shared));
COMMIT;
`,
    )
    await app.query<Row>(`CREATE TABLE "${schema}_orders" (id text PRIMARY KEY)`)
    cleanups.push(() => app.query<Row>(`DROP TABLE IF EXISTS "${schema}_orders"`))
    const worker = outbox.worker()
    await worker.start()
    cleanups.push(() => worker.stop())
    const url = new URL(POSTGRES_URL)
    // 40 connections at once (the server allows 100 in all), 25 transactions each: 1,000.
    const { stdout } = await run(
      'pgbench',
      [
        '-n',
        '-h',
        url.hostname,
        '-p',
        url.port || '5432',
        '-U',
        decodeURIComponent(url.username) || 'postgres',
        '-c',
        '40',
        '-j',
        '2',
        '-t',
        '25',
        '-f',
        script,
        url.pathname.slice(1),
      ],
      { timeout: 120_000 },
    )
    expect(stdout).toMatch(/number of transactions actually processed: 1000\/1000/)
    expect(stdout).not.toMatch(/number of failed transactions: [1-9]/)
    const orders = await app.query<Row>(`SELECT count(*)::int AS n FROM "${schema}_orders"`)
    expect(orders.rows[0]!.n).toBe(1000)
    await waitUntil(
      async () =>
        (await app.query<Row>(`SELECT count(*)::int AS n FROM "${schema}".submissions`)).rows[0]!
          .n === 0,
      60_000,
      'every submission to be moved into the queue',
    )
    const { rows } = await app.query<Row>(
      `SELECT count(*) FILTER (WHERE idempotency_key LIKE 'own-%')::int AS own,
         count(DISTINCT idempotency_key) FILTER (WHERE idempotency_key LIKE 'own-%')::int AS own_keys,
         count(*) FILTER (WHERE idempotency_key LIKE 'shared-%')::int AS shared,
         count(DISTINCT idempotency_key) FILTER (WHERE idempotency_key LIKE 'shared-%')::int AS shared_keys
       FROM "${schema}".messages`,
    )
    expect(rows[0]!.own).toBe(1000)
    expect(rows[0]!.own_keys).toBe(1000)
    expect(rows[0]!.shared).toBe(rows[0]!.shared_keys)
    expect(rows[0]!.shared).toBeGreaterThanOrEqual(1)
    expect(rows[0]!.shared).toBeLessThanOrEqual(20)
    const total = 1000 + Number(rows[0]!.shared)
    await sink.waitFor(total, 90_000)
    await sleep(500)
    expect(sink.messages).toHaveLength(total)
  }, 240_000)
})
