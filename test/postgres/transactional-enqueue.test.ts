import pg from 'pg'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { ConfigError, createOutbox, type Outbox } from '../../src/index.js'
import {
  dropSchemas,
  POSTGRES_URL,
  postgresAvailable,
  postgresStoreUrl,
  uniqueSchema,
} from '../helpers/postgres.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'
import { sleep, tempSqliteUrl } from '../helpers/temp.js'

const available = await postgresAvailable()
const schema = uniqueSchema('txn')
let outbox: Outbox | null = null
let sink: SmtpSink | null = null
let app: pg.Pool | null = null
afterEach(async () => {
  await outbox?.close()
  await sink?.close()
  await app?.end()
  outbox = null
  app = null
})
afterAll(async () => {
  if (available) await dropSchemas([schema])
})

const mail = (subject: string) => ({
  from: 'shop@example.com',
  to: 'a@example.com',
  subject,
  text: 'x',
})

describe.skipIf(!available)('transactional enqueue (PostgreSQL)', () => {
  async function setup() {
    sink = await createSmtpSink()
    outbox = await createOutbox({ store: postgresStoreUrl(schema), upstream: sink.url })
    app = new pg.Pool({ connectionString: POSTGRES_URL })
    await app.query('CREATE TABLE IF NOT EXISTS public.outbox_test_orders (id text PRIMARY KEY)')
    return { outbox, sink, app }
  }

  it('a message enqueued in a transaction that commits is delivered; one that rolls back never is', async () => {
    const { outbox, sink, app } = await setup()
    const worker = outbox.worker()
    await worker.start()

    const client = await app.connect()
    let rolledBackId: string
    try {
      await client.query('BEGIN')
      await client.query('INSERT INTO public.outbox_test_orders VALUES ($1)', [`order-${schema}-1`])
      rolledBackId = (await outbox.send(mail('rolled back'), { db: client, priority: 'now' })).id
      await client.query('ROLLBACK')

      await client.query('BEGIN')
      await client.query('INSERT INTO public.outbox_test_orders VALUES ($1)', [`order-${schema}-2`])
      const committed = await outbox.send(mail('committed'), { db: client, priority: 'now' })
      // Not visible, not sent, until the caller commits.
      expect(committed.status).toBe('queued')
      await sleep(300)
      expect(sink.messages).toHaveLength(0)
      await client.query('COMMIT')
    } finally {
      client.release()
    }
    await sink.waitFor(1, 10_000)
    await sleep(500)
    await worker.stop()
    expect(
      sink.messages.map((m) => /^subject: (.*)$/im.exec(m.raw.toString())![1]!.trim()),
    ).toEqual(['committed'])
    await expect(outbox.admin.getMessage(rolledBackId)).rejects.toThrow(/No message/)
  })

  it('sendMany takes the transaction once for the batch', async () => {
    const { outbox, app } = await setup()
    const client = await app.connect()
    try {
      await client.query('BEGIN')
      await outbox.sendMany([mail('one'), mail('two')], { db: client })
      await client.query('ROLLBACK')
    } finally {
      client.release()
    }
    expect((await outbox.admin.list({ subject: 'one' })).messages).toHaveLength(0)
  })
})

describe('transactional enqueue needs PostgreSQL', () => {
  it('the SQLite store refuses a db option with a clear error', async () => {
    const o = await createOutbox({ store: tempSqliteUrl() })
    try {
      const error = await o
        .send(mail('x'), { db: { query: async () => ({}) } })
        .catch((e: unknown) => e)
      expect(error).toBeInstanceOf(ConfigError)
      expect((error as Error).message).toMatch(/PostgreSQL/)
      expect((await o.admin.countByStatus()).queued).toBe(0)
    } finally {
      await o.close()
    }
  })
})
