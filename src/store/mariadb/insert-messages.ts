import { priorityRank } from '../priority-rank.js'
import type { NewMessage } from '../store.js'
import type { Query } from '../sql/driver.js'
import { queryBuilder, type Param } from '../sql/query.js'
import { NOW, inList, json } from './sql-parts.js'
import { insertChunks } from '../sql/insert-chunks.js'
import { templateColumn } from '../sql/template-dialect.js'

const q = queryBuilder('?')

/** Most messages, and bytes, in one chunk of statements (under the default max_allowed_packet). */
const MAX_CHUNK_ROWS = 500
const MAX_CHUNK_BYTES = 4 * 1024 * 1024

const chunks = (messages: readonly NewMessage[]): NewMessage[][] =>
  insertChunks(messages, { maxRows: MAX_CHUNK_ROWS, maxBytes: MAX_CHUNK_BYTES })

/** Rows written as a derived table: `SELECT ? AS a, ? AS b UNION ALL SELECT ?, ?`. */
function derivedRows(p: Param, names: readonly string[], rows: readonly unknown[][]): string {
  return rows
    .map((row, i) =>
      i === 0
        ? `SELECT ${row.map((v, c) => `${p(v)} AS ${names[c]}`).join(', ')}`
        : `SELECT ${row.map((v) => p(v)).join(', ')}`,
    )
    .join(' UNION ALL ')
}

const flag = (value: boolean | undefined) => (value === undefined ? null : value ? 1 : 0)

/**
 * The statements storing messages with their bytes, recipients and tags, in `prefix`'s tables.
 * A message whose idempotency key is already stored is left out, and so are its parts (they
 * are inserted only for messages that made it in). The last statement returns the `id` of
 * every message of the batch that is stored.
 */
export function insertMessages(prefix: string, messages: readonly NewMessage[]): Query[] {
  const M = `${prefix}messages`
  const stored = (id: string) => `EXISTS (SELECT 1 FROM ${M} x WHERE x.id = ${id})`
  const queries: Query[] = []
  for (const chunk of chunks(messages)) {
    const columns = [
      'id',
      'message_id',
      'status',
      'priority',
      'mail_from',
      'recipients',
      'subject',
      'tags',
      'size',
      'ikey',
      'send_at',
      'max_age',
      'lease_owner',
      'lease_ms',
      'eight_bit',
      'smtputf8',
      'upstream',
      'template',
    ]
    const rows = chunk.map((m) => [
      m.id,
      m.messageId,
      m.leaseTo ? 'sending' : 'queued',
      priorityRank(m.priority),
      m.envelope.from,
      json(m.envelope.to),
      m.subject,
      json(m.tags),
      m.raw.length,
      m.idempotencyKey,
      m.sendAt ? m.sendAt.getTime() : null,
      Math.round(m.maxAgeMs),
      m.leaseTo?.owner ?? null,
      m.leaseTo ? Math.round(m.leaseTo.leaseMs) : null,
      flag(m.eightBit),
      flag(m.smtpUtf8),
      m.upstream ?? null,
      templateColumn(m.template),
    ])
    queries.push(
      q(
        (p) => `
        INSERT INTO ${M} (id, message_id, status, priority, mail_from, recipients, subject, tags,
          size, idempotency_key, created_at, due_at, expires_at, lease_owner, lease_expires_at,
          eight_bit, smtputf8, upstream, template, updated_at)
        SELECT v.id, v.message_id, v.status, v.priority, v.mail_from, v.recipients, v.subject,
          v.tags, v.size, v.ikey, n.t,
          CASE WHEN v.lease_owner IS NULL THEN COALESCE(v.send_at, n.t) END,
          GREATEST(COALESCE(v.send_at, n.t), n.t) + v.max_age,
          v.lease_owner, CASE WHEN v.lease_owner IS NULL THEN NULL ELSE n.t + v.lease_ms END,
          v.eight_bit, v.smtputf8, v.upstream, v.template, n.t
        FROM (${derivedRows(p, columns, rows)}) v CROSS JOIN (SELECT ${NOW} AS t) n
        -- A key already stored keeps its message out (the unique index stops a race).
        WHERE v.ikey IS NULL
          OR NOT EXISTS (SELECT 1 FROM ${M} k WHERE k.idempotency_key = v.ikey)`,
      ),
      q(
        (p) => `
        INSERT INTO ${prefix}message_bodies (id, raw)
        SELECT v.id, v.raw FROM (${derivedRows(
          p,
          ['id', 'raw'],
          chunk.map((m) => [m.id, m.raw]),
        )}) v
        WHERE ${stored('v.id')}`,
      ),
      q(
        (p) => `
        INSERT INTO ${prefix}recipients (message_id, position, address, status, updated_at)
        SELECT j.id, j.pos, j.address, 'pending', ${NOW}
        FROM JSON_TABLE(${p(json(chunk.flatMap((m) => m.envelope.to.map((to, i) => [m.id, i, to]))))},
          '$[*]' COLUMNS (id VARCHAR(64) PATH '$[0]', pos INT PATH '$[1]', address TEXT PATH '$[2]')) j
        WHERE ${stored('j.id')}`,
      ),
    )
    const tags = chunk.flatMap((m) => m.tags.map((tag) => [m.id, tag]))
    if (tags.length > 0) {
      queries.push(
        q(
          (p) => `
          INSERT INTO ${prefix}message_tags (tag, message_id)
          SELECT DISTINCT j.tag, j.id
          FROM JSON_TABLE(${p(json(tags))},
            '$[*]' COLUMNS (id VARCHAR(64) PATH '$[0]', tag VARCHAR(255) PATH '$[1]')) j
          WHERE ${stored('j.id')}`,
        ),
      )
    }
  }
  // Which made it in, for every chunk at once.
  queries.push(
    q(
      (p) =>
        `SELECT id FROM ${M} WHERE id IN ${inList(
          p,
          messages.map((m) => m.id),
        )}`,
    ),
  )
  return queries
}
