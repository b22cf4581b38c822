import mysql from 'mysql2/promise'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createOutbox, type Outbox } from '../../src/index.js'
import {
  createTestDatabase,
  dropTestDatabases,
  mariadbAvailable,
  mariadbUrl,
} from '../helpers/mariadb.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'
import { sleep } from '../helpers/temp.js'

const available = await mariadbAvailable()
let database = ''
let outbox: Outbox | null = null
let sink: SmtpSink | null = null
let app: mysql.Pool | null = null
beforeAll(async () => {
  if (available) database = await createTestDatabase('txn')
})
afterEach(async () => {
  await outbox?.close()
  await sink?.close()
  await app?.end()
  outbox = null
  sink = null
  app = null
})
afterAll(async () => {
  if (available && database) await dropTestDatabases([database])
})

const mail = (subject: string) => ({
  from: 'shop@example.com',
  to: 'a@example.com',
  subject,
  text: 'x',
})

describe.skipIf(!available)('transactional enqueue (MariaDB)', () => {
  async function setup() {
    sink = await createSmtpSink()
    outbox = await createOutbox({ store: mariadbUrl(database), upstream: sink.url })
    app = mysql.createPool({ uri: mariadbUrl(database), connectionLimit: 2 })
    await app.query('CREATE TABLE IF NOT EXISTS orders (id VARCHAR(64) PRIMARY KEY)')
    return { outbox, sink, app }
  }

  it('a message enqueued in a transaction that commits is delivered; one that rolls back never is', async () => {
    const { outbox, sink, app } = await setup()
    const worker = outbox.worker()
    await worker.start()

    const connection = await app.getConnection()
    let rolledBackId: string
    try {
      await connection.beginTransaction()
      await connection.query('INSERT INTO orders VALUES (?)', ['order-1'])
      rolledBackId = (await outbox.send(mail('rolled back'), { db: connection, priority: 'now' }))
        .id
      await connection.rollback()

      await connection.beginTransaction()
      await connection.query('INSERT INTO orders VALUES (?)', ['order-2'])
      const committed = await outbox.send(mail('committed'), { db: connection, priority: 'now' })
      // Not visible, not sent, until the caller commits.
      expect(committed.status).toBe('queued')
      await sleep(300)
      expect(sink.messages).toHaveLength(0)
      await connection.commit()
    } finally {
      connection.release()
    }
    // The worker learns of the commit by its poll (no NOTIFY in MariaDB).
    await sink.waitFor(1, 10_000)
    await sleep(500)
    await worker.stop()
    expect(
      sink.messages.map((m) => /^subject: (.*)$/im.exec(m.raw.toString())![1]!.trim()),
    ).toEqual(['committed'])
    await expect(outbox.admin.getMessage(rolledBackId)).rejects.toThrow(/No message/)
    const [orders] = await app.query<mysql.RowDataPacket[]>('SELECT id FROM orders')
    expect(orders.map((o) => String(o.id))).toEqual(['order-2'])
  })

  it('sendMany takes the transaction once for the batch', async () => {
    const { outbox, app } = await setup()
    const connection = await app.getConnection()
    try {
      await connection.beginTransaction()
      await outbox.sendMany([mail('one'), mail('two')], { db: connection })
      await connection.rollback()
    } finally {
      connection.release()
    }
    expect((await outbox.admin.list({ subject: 'one' })).messages).toHaveLength(0)
  })
})
