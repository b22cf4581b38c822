import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import mysql from 'mysql2/promise'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { createOutbox } from '../../src/index.js'
import { openStore } from '../../src/store/open-store.js'
import { isValidAddress } from '../../src/message/validate-mail.js'
import {
  createTestDatabase,
  dropTestDatabases,
  MARIADB_URL,
  mariadbAvailable,
  mariadbUrl,
} from '../helpers/mariadb.js'
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
/** A row of the checks' own queries. */
type Row = Record<string, unknown>
type Db = mysql.Pool | mysql.PoolConnection
const available = await mariadbAvailable()
const databases: string[] = []
const cleanups: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})
afterAll(async () => {
  if (available) await dropTestDatabases(databases)
})

/** The errors of CALL outbox_enqueue() (see migration 0006). */
const INVALID = { sqlState: 'OB001', errno: 45001 }
const TOO_BIG = { sqlState: 'OB002', errno: 45002 }

async function setup(options: { dkim?: boolean; maxMessageSize?: number; pool?: number } = {}) {
  const database = await createTestDatabase('sqlenq')
  databases.push(database)
  const sink = await createSmtpSink()
  cleanups.push(() => sink.close())
  const outbox = await createOutbox({
    store: mariadbUrl(database),
    upstream: sink.url,
    upstreams: { backup: sink.url },
    ...(options.maxMessageSize ? { maxMessageSize: options.maxMessageSize } : {}),
    ...(options.dkim ? { dkim: DKIM } : {}),
  })
  cleanups.push(() => outbox.close())
  const app = mysql.createPool({
    uri: mariadbUrl(database),
    connectionLimit: options.pool ?? 4,
    supportBigNumbers: true,
  })
  cleanups.push(() => app.end())
  return { database, sink, outbox, app }
}

/** Calls `CALL outbox_enqueue(…)` as any language would; the id is the one row's `id`. */
async function sqlEnqueue(
  db: Db,
  raw: Buffer | string,
  from: string | null,
  to: unknown,
  options: Record<string, unknown> | null = {},
): Promise<string> {
  const [result] = await db.query('CALL outbox_enqueue(?, ?, ?, ?)', [
    Buffer.from(raw),
    from,
    typeof to === 'string' ? to : JSON.stringify(to),
    options === null ? null : JSON.stringify(options),
  ])
  const sets = result as mysql.RowDataPacket[][]
  expect(sets[0]).toHaveLength(1)
  return String(sets[0]![0]!.id)
}

async function count(db: Db, sql: string): Promise<number> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(sql)
  return Number(rows[0]!.n)
}

/**
 * Everything stored for one message, in every table, without what differs by nature between
 * two messages: ids, times (kept as what they mean: scheduled or not, the maximum age), the
 * random part of a generated Message-ID, the DKIM signature's time and value, and each path's
 * word in the idempotency key.
 */
async function storedRows(db: mysql.Pool, id: string) {
  const rows = async (sql: string) => (await db.query<mysql.RowDataPacket[]>(sql, [id]))[0]
  const plain = (row: Row, drop: string[]) =>
    JSON.parse(
      normaliseStored(
        JSON.stringify(Object.fromEntries(Object.entries(row).filter(([k]) => !drop.includes(k)))),
      ),
    ) as unknown
  const [body] = await rows('SELECT raw FROM outbox_message_bodies WHERE id = ?')
  const messages = await rows('SELECT * FROM outbox_messages WHERE id = ?')
  return {
    message: messages.map((m) => {
      const [created, due, expires] = [m.created_at, m.due_at, m.expires_at].map((t) =>
        t === null ? null : Number(t),
      ) as [number, number | null, number]
      return {
        ...(plain(m, [
          'id',
          'created_at',
          'updated_at',
          'due_at',
          'expires_at',
          'finished_at',
        ]) as object),
        no_due: due === null,
        scheduled: due !== null && due > Date.now() + 3_600_000 ? due : null,
        max_age_s: Math.round((expires - Math.max(due ?? created, created)) / 1000),
      }
    }),
    recipients: (
      await rows('SELECT * FROM outbox_recipients WHERE message_id = ? ORDER BY position')
    ).map((r) => plain(r, ['message_id', 'updated_at'])),
    tags: await rows('SELECT tag FROM outbox_message_tags WHERE message_id = ? ORDER BY tag'),
    attempts: await rows('SELECT COUNT(*) AS n FROM outbox_attempts WHERE message_id = ?'),
    events: (
      await rows('SELECT type, recipient, data FROM outbox_events WHERE message_id = ? ORDER BY id')
    ).map((event) => ({
      ...event,
      data: JSON.parse(normaliseStored(String(event.data)), (_, v: unknown) =>
        nowAsText(v),
      ) as unknown,
    })),
    raw: normaliseStored((body?.raw as Buffer | undefined)?.toString('latin1') ?? '<no body>'),
  }
}

/** Waits until the workers have written their upstreams for the procedure's check. */
async function settingsWritten(app: mysql.Pool) {
  await waitUntil(
    async () => {
      const [rows] = await app.query<mysql.RowDataPacket[]>(
        'SELECT upstreams FROM outbox_submission_settings',
      )
      return rows[0]!.upstreams !== null
    },
    20_000,
    'the worker to record its upstreams',
  )
}

describe.skipIf(!available)('CALL outbox_enqueue() in SQL (MariaDB)', () => {
  it('stores exactly what sendRaw() stores, in every table, DKIM signature included', async () => {
    const { outbox, app } = await setup({ dkim: true })
    await outbox.admin.suppressions.add(['gone@example.com'])
    await expectSameAsSendRaw(outbox, {
      async inTransaction(work) {
        const connection = await app.getConnection()
        try {
          await connection.beginTransaction()
          const result = await work(connection)
          await connection.commit()
          return result
        } finally {
          connection.release()
        }
      },
      sqlEnqueue: (raw, from, to, options) => sqlEnqueue(app, raw, from, to, options),
      storedRows: (id) => storedRows(app, id),
      async body(id) {
        const [bodies] = await app.query<mysql.RowDataPacket[]>(
          'SELECT raw FROM outbox_message_bodies WHERE id = ?',
          [id],
        )
        return bodies[0]!.raw as Buffer
      },
    })
  })

  it('makes queue ids as createQueueId() does: 10 characters of time, 10 random', async () => {
    const { app } = await setup()
    const before = Date.now()
    const [rows] = await app.query<mysql.RowDataPacket[]>(
      `SELECT outbox_new_queue_id() AS id FROM JSON_TABLE('[1,2,3,4,5,6,7,8,9,10]',
        '$[*]' COLUMNS (n INT PATH '$')) j`,
    )
    const after = Date.now()
    const ids = rows.map((r) => String(r.id))
    const alphabet = '0123456789abcdefghjkmnpqrstvwxyz'
    for (const id of ids) {
      expect(id).toMatch(/^[0-9a-hjkmnp-tv-z]{20}$/)
      const ms = [...id.slice(0, 10)].reduce((t, ch) => t * 32 + alphabet.indexOf(ch), 0)
      // The database's clock and this one's, a second apart at most.
      expect(ms).toBeGreaterThan(before - 1000)
      expect(ms).toBeLessThan(after + 1000)
    }
    expect(new Set(ids.map((id) => id.slice(10))).size).toBe(ids.length)
  })

  it('a ROLLBACK leaves nothing to send; a COMMIT is delivered by a running worker', async () => {
    const { outbox, app, sink } = await setup()
    const worker = outbox.worker()
    await worker.start()
    cleanups.push(() => worker.stop())
    await app.query('CREATE TABLE app_orders (id VARCHAR(64) PRIMARY KEY)')
    const connection = await app.getConnection()
    try {
      await connection.beginTransaction()
      await connection.query('INSERT INTO app_orders VALUES (?)', ['order-1'])
      const rolledBack = await sqlEnqueue(
        connection,
        'Subject: rolled back\r\n\r\nx\r\n',
        'shop@example.com',
        ['a@example.com'],
        { priority: 'now' },
      )
      await connection.rollback()

      await connection.beginTransaction()
      await connection.query('INSERT INTO app_orders VALUES (?)', ['order-2'])
      const committed = await sqlEnqueue(
        connection,
        'Subject: committed\r\n\r\nx\r\n',
        'shop@example.com',
        ['a@example.com'],
      )
      await sleep(500)
      // The worker cannot see it before the commit.
      expect(sink.messages).toHaveLength(0)
      await connection.commit()
      await sink.waitFor(1, 20_000)
      await waitUntil(
        async () => (await outbox.admin.getMessage(committed)).status === 'sent',
        20_000,
        'the committed message to be recorded sent',
      )
      await expect(outbox.admin.getMessage(rolledBack)).rejects.toThrow(/No message/)
    } finally {
      connection.release()
    }
    // Nothing more arrives: the rolled-back one does not exist anywhere.
    await sleep(1000)
    expect(
      sink.messages.map((m) => /^subject: (.*)$/im.exec(m.raw.toString())![1]!.trim()),
    ).toEqual(['committed'])
    expect(await count(app, 'SELECT COUNT(*) AS n FROM outbox_submissions')).toBe(0)
    expect(await count(app, 'SELECT COUNT(*) AS n FROM app_orders')).toBe(1)
  })

  it("a commit of CALL outbox_enqueue() wakes other processes' workers through their poll", async () => {
    const { database, app } = await setup()
    // A bare store, as another process's: no intake runs in it, so only the poll of the newest
    // submission can tell its listener (no message is made that the poll would see otherwise).
    const store = await openStore(mariadbUrl(database))
    cleanups.push(() => store.close())
    let woken = 0
    const unsubscribe = store.onEnqueue(() => woken++)
    cleanups.push(unsubscribe)
    // The first poll reads the marks as they are, and only a later change wakes: a call now and
    // then until one is seen (one is enough once the poll has run).
    for (let call = 0; call < 10 && woken === 0; call++) {
      await sqlEnqueue(app, 'Subject: poke\r\n\r\nx\r\n', 'shop@example.com', ['a@example.com'])
      await waitUntil(() => woken > 0, 2_000, 'the poll to see the submission').catch(
        () => undefined,
      )
    }
    expect(woken).toBeGreaterThan(0)
    expect(await count(app, 'SELECT COUNT(*) AS n FROM outbox_messages')).toBe(0)
  })

  it('the mariadb command-line client enqueues too: the id is the one row it prints', async () => {
    const { database, outbox, app } = await setup()
    const url = new URL(MARIADB_URL)
    const { stdout } = await run(
      'mariadb',
      [
        '-h',
        url.hostname,
        '-P',
        url.port || '3306',
        '-u',
        decodeURIComponent(url.username) || 'root',
        '--default-character-set=utf8mb4',
        '--batch',
        '--skip-column-names',
        database,
        '-e',
        `START TRANSACTION;
         CALL outbox_enqueue(CONVERT('Subject: from the CLI\\r\\n\\r\\nGrüße\\r\\n' USING utf8mb4),
           'shop@example.com', '["jörg@exämple.com"]', '{"tags": ["cli"]}');
         COMMIT;`,
      ],
      { timeout: 30_000 },
    )
    const id = stdout.trim()
    expect(id).toMatch(/^[0-9a-hjkmnp-tv-z]{20}$/)
    expect(await outbox.takeSqlSubmissions()).toBe(1)
    const message = await outbox.admin.getMessage(id)
    expect(message).toMatchObject({ subject: 'from the CLI', tags: ['cli'] })
    expect(message.recipients).toEqual(['jörg@exämple.com'])
    const raw = await outbox.admin.getRaw(id)
    expect(raw.toString('utf8')).toContain('Grüße')
    expect(await count(app, 'SELECT COUNT(*) AS n FROM outbox_submissions')).toBe(0)
  })

  it.each([
    ['a bad recipient', ['a@example.com', 'not an address'], {}, 'rcpt_to[2]'],
    ['CR/LF in the sender', ['a@example.com'], {}, 'mail_from'],
    ['no recipients', [], {}, 'rcpt_to'],
    ['recipients that are not a JSON array', 'a@example.com', {}, 'rcpt_to'],
    ['a recipient that is not a string', ['a@example.com', 5], {}, 'rcpt_to[2]'],
    ['an unknown option', ['a@example.com'], { sendAt: 'x' }, 'options.sendAt'],
    ['options that are not an object', ['a@example.com'], '[1]', 'options'],
    ['a bad send_at', ['a@example.com'], { send_at: 'next tuesday-ish' }, 'options.send_at'],
    [
      'an impossible send_at',
      ['a@example.com'],
      { send_at: '2030-02-30T00:00:00Z' },
      'options.send_at',
    ],
    ['a bad priority', ['a@example.com'], { priority: 'urgent' }, 'options.priority'],
    ['a tag with a space', ['a@example.com'], { tags: ['ok', 'not ok'] }, 'options.tags[2]'],
    ['a tag with a no-break space', ['a@example.com'], { tags: ['a\u00a0b'] }, 'options.tags[1]'],
    [
      'too many tags',
      ['a@example.com'],
      { tags: Array.from({ length: 21 }, (_, i) => `t${i}`) },
      'options.tags',
    ],
    [
      'an idempotency key too long',
      ['a@example.com'],
      { idempotency_key: 'k'.repeat(256) },
      'options.idempotency_key',
    ],
    [
      'an idempotency key with a control character',
      ['a@example.com'],
      { idempotency_key: 'a\tb' },
      'options.idempotency_key',
    ],
    [
      'ignore_suppression not a boolean',
      ['a@example.com'],
      { ignore_suppression: 1 },
      'options.ignore_suppression',
    ],
    ['an upstream not configured', ['a@example.com'], { upstream: 'nosuch' }, 'options.upstream'],
  ] as const)('%s: OB001 naming the field, nothing stored', async (_, to, options, field) => {
    const { outbox, app } = await setup()
    // The workers record the configured upstreams for the procedure's check.
    const worker = outbox.worker()
    await worker.start()
    cleanups.push(() => worker.stop())
    await settingsWritten(app)
    const from =
      field === 'mail_from' ? 'shop@example.com\r\nBcc: x@example.com' : 'shop@example.com'
    const connection = await app.getConnection()
    cleanups.push(() => connection.release())
    await app.query('CREATE TABLE app_orders (id VARCHAR(64) PRIMARY KEY)')
    await connection.beginTransaction()
    await connection.query("INSERT INTO app_orders VALUES ('kept')")
    const error = (await connection
      .query('CALL outbox_enqueue(?, ?, ?, ?)', [
        Buffer.from('Subject: x\r\n\r\nx\r\n'),
        from,
        typeof to === 'string' ? to : JSON.stringify(to),
        typeof options === 'string' ? options : JSON.stringify(options),
      ])
      .then(
        () => null,
        (e: unknown) => e,
      )) as (Error & { sqlState?: string; errno?: number }) | null
    expect(error).not.toBeNull()
    expect({ sqlState: error!.sqlState, errno: error!.errno }).toEqual(INVALID)
    expect(error!.message.startsWith(`${field}: `), error!.message).toBe(true)
    // The caller's transaction goes on: its own row commits, and nothing of the mail.
    await connection.commit()
    expect(await count(app, 'SELECT COUNT(*) AS n FROM app_orders')).toBe(1)
    expect(await count(app, 'SELECT COUNT(*) AS n FROM outbox_submissions')).toBe(0)
    expect(await count(app, 'SELECT COUNT(*) AS n FROM outbox_messages')).toBe(0)
  })

  it('names the upstreams it knows, and reads send_at with Z or an offset, and refuses one without', async () => {
    const { outbox, app } = await setup()
    const worker = outbox.worker()
    await worker.start()
    cleanups.push(() => worker.stop())
    await settingsWritten(app)
    await expect(
      sqlEnqueue(app, 'Subject: x\r\n\r\nx\r\n', 'shop@example.com', ['a@example.com'], {
        upstream: 'nosuch',
      }),
    ).rejects.toThrow(
      'options.upstream: options.upstream names no configured upstream: "nosuch" (known: default, backup).',
    )
    await worker.stop()
    const times = [
      ['2031-05-06T07:08:09.123Z', '2031-05-06T07:08:09.123Z'],
      ['2031-05-06T09:08:09.123456+02:00', '2031-05-06T07:08:09.123Z'],
      ['2031-05-06T01:38:09-0530', '2031-05-06T07:08:09.000Z'],
      ['2031-05-06 07:08Z', '2031-05-06T07:08:00.000Z'],
    ]
    for (const [given, meant] of times) {
      const id = await sqlEnqueue(
        app,
        'Subject: later\r\n\r\nx\r\n',
        'shop@example.com',
        ['a@example.com'],
        { send_at: given },
      )
      const [rows] = await app.query<mysql.RowDataPacket[]>(
        'SELECT send_at FROM outbox_submissions WHERE id = ?',
        [id],
      )
      expect(new Date(Number(rows[0]!.send_at)).toISOString(), given).toBe(meant)
    }
    for (const given of ['2031-05-06 07:08', '2031-05-06', '2031-05-06T07:08:09']) {
      await expect(
        sqlEnqueue(app, 'Subject: x\r\n\r\nx\r\n', 'shop@example.com', ['a@example.com'], {
          send_at: given,
        }),
        given,
      ).rejects.toThrow(/^options\.send_at: .*with its offset/)
    }
  })

  it('judges addresses as sendRaw() does, character for character', async () => {
    const { app } = await setup()
    const addresses = [
      ...TRICKY_ADDRESSES,
      // JavaScript's $ ends the text; a final newline is not allowed before it.
      'a@b.c\n',
      'a\nb@example.com',
      'a\u0000b@example.com',
      'a@example.com\u0000',
      '"tab\tinside"@example.com',
      '"a\u0085"@example.com',
      'a@😀.example',
      'x'.repeat(64) + '@' + 'y'.repeat(251) + '.com',
      'x'.repeat(64) + '@' + 'y'.repeat(252) + '.com',
      '"x@y"@example.com',
      'a@b@example.com',
      'A@EXAMPLE.COM',
    ]
    const verdicts: [string, boolean][] = []
    for (const address of addresses) {
      const [rows] = await app.query<mysql.RowDataPacket[]>(
        'SELECT outbox_is_valid_address(?) AS ok',
        [address],
      )
      verdicts.push([address, Number(rows[0]!.ok) === 1])
    }
    expect(verdicts).toEqual(addresses.map((a) => [a, isValidAddress(a)]))
    // Both verdicts occur: the list tests the check, not only one side of it.
    expect(new Set(verdicts.map(([, ok]) => ok))).toEqual(new Set([true, false]))
  })

  it('what only Outbox can check refuses that submission alone, kept with the reason', async () => {
    const { outbox, app } = await setup()
    // No worker has run yet: the procedure does not know the upstream names.
    const ghost = await sqlEnqueue(
      app,
      'Subject: g\r\n\r\nx\r\n',
      'shop@example.com',
      ['a@example.com'],
      { upstream: 'ghost' },
    )
    const good = await sqlEnqueue(app, 'Subject: ok\r\n\r\nx\r\n', 'shop@example.com', [
      'a@example.com',
    ])
    expect(await outbox.takeSqlSubmissions()).toBe(2)
    expect((await outbox.admin.getMessage(good)).subject).toBe('ok')
    await expect(outbox.admin.getMessage(ghost)).rejects.toThrow(/No message/)
    const [rows] = await app.query<mysql.RowDataPacket[]>(
      'SELECT id, error FROM outbox_submissions',
    )
    expect(rows.map((r) => String(r.id))).toEqual([ghost])
    expect(String(rows[0]!.error)).toMatch(/^options\.upstream: .*"ghost"/)
    // Not offered again.
    expect(await outbox.takeSqlSubmissions()).toBe(0)
  })

  it('over the size limit: OB002, nothing stored', async () => {
    const { outbox, app } = await setup({ maxMessageSize: 100_000 })
    const [before] = await app.query<mysql.RowDataPacket[]>(
      'SELECT max_message_size AS n FROM outbox_submission_settings',
    )
    // The default until a worker writes its own (the server's max_allowed_packet permitting).
    expect(before[0]!.n).toBe(26214400)
    const worker = outbox.worker()
    await worker.start()
    cleanups.push(() => worker.stop())
    await settingsWritten(app)
    const big = Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), Buffer.alloc(100_000, 'a')])
    const error = (await sqlEnqueue(app, big, 'shop@example.com', ['a@example.com']).catch(
      (e: unknown) => e,
    )) as Error & { sqlState?: string; errno?: number }
    expect({ sqlState: error.sqlState, errno: error.errno }).toEqual(TOO_BIG)
    expect(error.message).toBe('raw: the message is 100016 bytes, over the 100000-byte limit.')
    expect(await count(app, 'SELECT COUNT(*) AS n FROM outbox_submissions')).toBe(0)
    // At the limit it is taken.
    await sqlEnqueue(app, big.subarray(0, 100_000), 'shop@example.com', ['a@example.com'])
    expect(await count(app, 'SELECT COUNT(*) AS n FROM outbox_submissions')).toBe(1)
  })

  it('an idempotency key returns the first id, before and after the move into the queue', async () => {
    const { outbox, app } = await setup()
    const first = await sqlEnqueue(
      app,
      'Subject: k\r\n\r\nx\r\n',
      'shop@example.com',
      ['a@example.com'],
      { idempotency_key: 'k-1' },
    )
    expect(
      await sqlEnqueue(app, 'Subject: k2\r\n\r\nx\r\n', 'shop@example.com', ['a@example.com'], {
        idempotency_key: 'k-1',
      }),
    ).toBe(first)
    // Keys compare byte for byte.
    const other = await sqlEnqueue(
      app,
      'Subject: K\r\n\r\nx\r\n',
      'shop@example.com',
      ['a@example.com'],
      { idempotency_key: 'K-1' },
    )
    expect(other).not.toBe(first)
    expect(await outbox.takeSqlSubmissions()).toBe(2)
    expect(
      await sqlEnqueue(app, 'Subject: k3\r\n\r\nx\r\n', 'shop@example.com', ['a@example.com'], {
        idempotency_key: 'k-1',
      }),
    ).toBe(first)
    // sendRaw() with the key finds the same message.
    const again = await outbox.sendRaw(
      { from: 'shop@example.com', to: ['a@example.com'], raw: 'Subject: k4\r\n\r\nx\r\n' },
      { idempotencyKey: 'k-1' },
    )
    expect(again).toMatchObject({ id: first, duplicate: true })
    expect(await count(app, 'SELECT COUNT(*) AS n FROM outbox_messages')).toBe(2)
    expect(await count(app, 'SELECT COUNT(*) AS n FROM outbox_submissions')).toBe(0)
  })

  it('1,000 transactions from 40 concurrent connections: every message stored once and delivered', async () => {
    const { outbox, app, sink, database } = await setup()
    const [[limits]] = await app.query<mysql.RowDataPacket[]>(
      'SELECT @@max_connections AS max, (SELECT COUNT(*) FROM information_schema.processlist) AS used',
    )
    const CONNECTIONS = 40
    // The workers' pool (10), these callers, and room for the rest of the server.
    expect(Number(limits!.max) - Number(limits!.used)).toBeGreaterThan(CONNECTIONS + 20)
    await app.query('CREATE TABLE app_orders (id VARCHAR(64) PRIMARY KEY)')
    const worker = outbox.worker()
    await worker.start()
    cleanups.push(() => worker.stop())
    // Each caller its own connection, in the server's default isolation (REPEATABLE READ).
    const callers = mysql.createPool({
      uri: mariadbUrl(database),
      connectionLimit: CONNECTIONS,
    })
    cleanups.push(() => callers.end())
    let retries = 0
    const PER_CONNECTION = 25
    // Each transaction: the app's own row and its mail, committed together (a key of its own,
    // given twice: the second call returns the first id), and a mail under one of 20 keys that
    // the callers share and race for: each of those is stored once, whoever wins. A deadlock
    // victim (InnoDB's answer to racing writers) runs its transaction again, as apps do.
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async (_, c) => {
        const connection = await callers.getConnection()
        try {
          for (let t = 0; t < PER_CONNECTION; t++) {
            const order = `${c}-${t}`
            for (;;) {
              try {
                await connection.beginTransaction()
                await connection.query('INSERT INTO app_orders VALUES (?)', [order])
                const own = await sqlEnqueue(
                  connection,
                  `Subject: many ${order}\r\n\r\nhello\r\n`,
                  'shop@example.com',
                  [`c${c}@example.com`],
                  { tags: ['many'], idempotency_key: `own-${order}` },
                )
                const same = await sqlEnqueue(
                  connection,
                  'Subject: again\r\n\r\nx\r\n',
                  'shop@example.com',
                  ['x@example.com'],
                  { idempotency_key: `own-${order}` },
                )
                expect(same).toBe(own)
                await sqlEnqueue(
                  connection,
                  'Subject: shared\r\n\r\nhello\r\n',
                  'shop@example.com',
                  ['shared@example.com'],
                  { idempotency_key: `shared-${1 + Math.floor(Math.random() * 20)}` },
                )
                await connection.commit()
                break
              } catch (error) {
                await connection.rollback()
                const errno = (error as { errno?: number }).errno
                if (errno !== 1213 && errno !== 1205) throw error
                retries++
              }
            }
          }
        } finally {
          connection.release()
        }
      }),
    )
    console.log(`1,000 SQL enqueue transactions: ${retries} run again after a deadlock`)
    expect(await count(app, 'SELECT COUNT(*) AS n FROM app_orders')).toBe(1000)
    await waitUntil(
      async () => (await count(app, 'SELECT COUNT(*) AS n FROM outbox_submissions')) === 0,
      60_000,
      'every submission to be moved into the queue',
    )
    const [rows] = await app.query<mysql.RowDataPacket[]>(
      `SELECT SUM(idempotency_key LIKE 'own-%') AS own,
         COUNT(DISTINCT CASE WHEN idempotency_key LIKE 'own-%' THEN idempotency_key END) AS own_keys,
         SUM(idempotency_key LIKE 'shared-%') AS shared,
         COUNT(DISTINCT CASE WHEN idempotency_key LIKE 'shared-%' THEN idempotency_key END) AS shared_keys
       FROM outbox_messages`,
    )
    const counts = Object.fromEntries(Object.entries(rows[0]!).map(([k, v]) => [k, Number(v)]))
    expect(counts.own).toBe(1000)
    expect(counts.own_keys).toBe(1000)
    expect(counts.shared).toBe(counts.shared_keys)
    expect(counts.shared).toBeGreaterThanOrEqual(1)
    expect(counts.shared).toBeLessThanOrEqual(20)
    const total = 1000 + counts.shared!
    await sink.waitFor(total, 90_000)
    await sleep(500)
    expect(sink.messages).toHaveLength(total)
  }, 240_000)
})
