import { expect } from 'vitest'
import type { Outbox } from '../../src/index.js'
import type { ExternalTransaction } from '../../src/store/store.js'
import { dnsValue, newDkimKey, verifyDkim } from './dkim.js'

/**
 * What the SQL enqueue tests of every database share: the messages both paths (sendRaw() and
 * the database's enqueue routine) store and compare, the normalising of what differs by nature
 * between two messages, and the addresses whose verdicts must equal isValidAddress().
 */

/** sendRaw()'s options of one case, in sendRaw()'s names. */
export interface CaseOptions {
  priority?: string
  sendAt?: string
  idempotencyKey?: string
  tags?: string[]
  upstream?: string
  ignoreSuppression?: boolean
}

/** One raw message, its envelope and its options. */
export interface SqlEnqueueCase {
  name: string
  raw: string | Buffer
  from: string
  to: string[]
  options: CaseOptions
}

/**
 * The cases both paths store. Before they run, `gone@example.com` is on the suppression list;
 * the upstream `backup` is configured. `PATH` in an option is replaced by each path's own word.
 */
export const CASES: SqlEnqueueCase[] = [
  {
    name: 'CRLF, Message-ID given, encoded Subject, 8-bit body, repeated recipient and tag',
    raw: Buffer.from(
      'From: Shop <shop@example.com>\r\nTo: a@example.com\r\nMessage-ID: <given@example.com>\r\n' +
        'Subject: =?utf-8?b?R3LDvMOfZSDinJM=?=\r\n\r\nGrüße aus München\r\n',
    ),
    from: 'shop@example.com',
    to: ['a@example.com', 'b@example.com', 'a@example.com'],
    options: {
      priority: 'high',
      idempotencyKey: 'order-1-PATH',
      tags: ['receipt', 'eu', 'receipt'],
    },
  },
  {
    name: 'bare LF, no Message-ID, a Received trace field, no blank line before the body',
    raw: 'Received: from app.example.com by db\n\tfor <a@example.com>; Wed, 2 Dec 2026 10:00:00 +0000\nSubject: plain\nthis line is the body\nand this\n',
    from: 'shop@example.com',
    to: ['a@example.com'],
    options: {},
  },
  {
    name: 'null sender, scheduled, low priority, named upstream',
    raw: 'From: shop@example.com\r\nSubject: later\r\n\r\nlater\r\n',
    from: '',
    to: ['c@example.com'],
    options: { priority: 'low', sendAt: '2031-05-06T07:08:09.123Z', upstream: 'backup' },
  },
  {
    name: 'one recipient on the suppression list, a non-ASCII address, priority now',
    raw: 'Subject: =?iso-8859-1?q?caf=E9?=\r\n\r\nx\r\n',
    from: 'shop@example.com',
    to: ['gone@example.com', 'jörg@exämple.com'],
    options: { priority: 'now', tags: ['vip'] },
  },
  {
    name: 'every recipient suppressed',
    raw: 'Subject: nobody\r\n\r\nx\r\n',
    from: 'shop@example.com',
    to: ['gone@example.com'],
    options: {},
  },
  {
    name: 'suppressed recipient, ignoreSuppression',
    raw: 'Subject: anyway\r\n\r\nx\r\n',
    from: 'shop@example.com',
    to: ['gone@example.com'],
    options: { ignoreSuppression: true },
  },
]

/** The SQL routine's option names for sendRaw()'s. */
export function sqlOptions(options: CaseOptions): Record<string, unknown> {
  const names: Record<string, string> = {
    sendAt: 'send_at',
    idempotencyKey: 'idempotency_key',
    ignoreSuppression: 'ignore_suppression',
  }
  return Object.fromEntries(Object.entries(options).map(([k, v]) => [names[k] ?? k, v]))
}

/** A case's options with `PATH` replaced by `path` (each path's idempotency key differs). */
export const pathed = (value: unknown, path: string): unknown =>
  JSON.parse(JSON.stringify(value ?? null).replaceAll('PATH', path))

/**
 * Stored text without what differs by nature between two messages: the random part of a
 * generated Message-ID, the DKIM signature's time and value (the signature is checked
 * separately), and each path's word in the idempotency key.
 */
export const normaliseStored = (text: string): string =>
  text
    .replace(/<[0-9a-f-]{36}@/g, '<UUID@')
    .replace(/; t=\d+;/g, '; t=T;')
    .replace(/b=[A-Za-z0-9+/=\s]+$/m, 'b=B')
    .replace(/sqlpath|rawpath/g, 'PATH')

/** A time within the hour (the moment of storing, which differs) as the text NOW. */
export function nowAsText(value: unknown): unknown {
  if (typeof value !== 'string' || !/^\d{4}-\d\d-\d\dT[\d:.]+Z$/.test(value)) return value
  return Math.abs(Date.parse(value) - Date.now()) < 3_600_000 ? 'NOW' : value
}

/** Addresses on both sides of isValidAddress(), the tricky ones especially. */
export const TRICKY_ADDRESSES = [
  'a@example.com',
  'A.B+tag@sub.example.co.uk',
  'jörg@exämple.com',
  '"quoted local"@example.com',
  '"with \\ backslash"@example.com',
  '"line\r\nbreak"@example.com',
  'no-at-sign',
  '@example.com',
  'a@',
  'a@@example.com',
  'a b@example.com',
  'a\u00a0b@example.com',
  'a\u2028b@example.com',
  'a\u3000b@example.com',
  'a\ufeffb@example.com',
  'a\tb@example.com',
  'a\u007fb@example.com',
  'a\u0085b@example.com',
  'a<b@example.com',
  'a>b@example.com',
  'a(b)@example.com',
  'a[b]@example.com',
  'a,b@example.com',
  'a;b@example.com',
  'a:b@example.com',
  'a"b@example.com',
  'a\\b@example.com',
  'a@.example.com',
  'a@example.com.',
  'a@example..com',
  'a@localhost',
  'x'.repeat(308) + '@example.com',
  'x'.repeat(309) + '@example.com',
  '😀'.repeat(154) + '@example.com',
  '😀'.repeat(155) + '@example.com',
  'a@b.c\r\n',
]

/** The DKIM key of the comparison's Outbox (Ed25519: deterministic signatures). */
export const DKIM_KEY = newDkimKey('ed25519-sha256')
export const DKIM = [
  {
    domain: 'example.com',
    selector: 's1',
    privateKey: DKIM_KEY,
    algorithm: 'ed25519-sha256' as const,
  },
]

/** What {@link expectSameAsSendRaw} needs of one database. */
export interface SqlPath {
  /** Runs `work` in a transaction of the app's own connection, and commits. */
  inTransaction<T>(work: (db: ExternalTransaction) => Promise<T>): Promise<T>
  /** The database's enqueue routine; resolves with the queue id. */
  sqlEnqueue(
    raw: string | Buffer,
    from: string,
    to: string[],
    options: Record<string, unknown>,
  ): Promise<string>
  /** Everything stored for one message, normalised (see normaliseStored). */
  storedRows(id: string): Promise<{ message: unknown[] }>
  /** The stored bytes of one message. */
  body(id: string): Promise<Buffer>
}

/**
 * For each case, stores it with sendRaw() in a transaction and with the SQL routine, moves the
 * submission into the queue, and expects the same rows; the SQL path's DKIM signature must
 * verify (an Outbox configured with {@link DKIM}; `gone@example.com` suppressed).
 */
export async function expectSameAsSendRaw(outbox: Outbox, path: SqlPath): Promise<void> {
  for (const c of CASES) {
    const options = pathed(c.options, 'rawpath') as Record<string, unknown>
    // Inside the caller's transaction, as the SQL path always is.
    const rawId = await path.inTransaction(
      async (db) =>
        (await outbox.sendRaw({ from: c.from, to: c.to, raw: c.raw }, { ...options, db })).id,
    )
    const sqlId = await path.sqlEnqueue(
      c.raw,
      c.from,
      c.to,
      sqlOptions(pathed(c.options, 'sqlpath') as CaseOptions),
    )
    expect(sqlId).toMatch(/^[0-9a-hjkmnp-tv-z]{20}$/)
    expect(await outbox.takeSqlSubmissions()).toBe(1)
    const [fromRaw, fromSql] = [await path.storedRows(rawId), await path.storedRows(sqlId)]
    expect(fromSql, c.name).toEqual(fromRaw)
    expect(fromSql.message, c.name).toHaveLength(1)
    const checks = await verifyDkim(await path.body(sqlId), {
      's1._domainkey.example.com': dnsValue(DKIM_KEY),
    })
    // Signed by its From domain; a message without a From is not signed, by either path.
    const signed = /^From:/im.test(c.raw.toString())
    expect(
      checks.map((check) => check.result),
      c.name,
    ).toEqual(signed ? ['pass'] : ['none'])
  }
}
