import { afterEach, describe, expect, it } from 'vitest'
import { createOutbox, type Outbox } from '../../src/index.js'
import {
  redisServerInstalled,
  startRedisServer,
  type TestRedisServer,
} from '../helpers/redis-server.js'
import { waitUntil } from '../helpers/temp.js'

const installed = redisServerInstalled()
const servers: TestRedisServer[] = []
let outbox: Outbox | null = null
afterEach(async () => {
  await outbox?.close()
  outbox = null
  // Replica first, so that it does not reconnect to a primary that is gone.
  for (const server of servers.splice(0).reverse()) await server.close()
})

const mail = { from: 's@example.com', to: 'r@example.com', subject: 'wait', text: 'x' }

describe.skipIf(!installed)('?wait=N: acknowledged once N replicas have the write', () => {
  it('acknowledges when a replica confirms, and refuses when none does in time', async () => {
    const primary = await startRedisServer()
    servers.push(primary)
    // Generous: the replica fsyncs every write (appendfsync always), which on a loaded machine
    // took longer than 200 ms once in CI.
    outbox = await createOutbox({ store: `${primary.url}?prefix=w:&wait=1&waitTimeout=2000` })
    await expect(outbox.send(mail)).rejects.toMatchObject({
      code: 'OUTBOX_STORE_UNAVAILABLE',
      message: expect.stringContaining('0 of 1 replicas') as unknown,
    })

    const replica = await startRedisServer([
      '--replicaof',
      '127.0.0.1',
      String(primary.port),
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
    ])
    servers.push(replica)
    // The replica's first sync takes a moment; after it, every send is confirmed.
    await waitUntil(
      async () => {
        try {
          await outbox!.send(mail)
          return true
        } catch {
          return false
        }
      },
      30_000,
      'a send confirmed by the replica',
    )
    const result = await outbox.send(mail)
    expect(result.duplicate ?? false).toBe(false)
  })
})
