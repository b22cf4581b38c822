import pg from 'pg'
import { createQueueId } from './dist/message/queue-id.js'
const [dist, db] = process.argv.slice(2)
const { createPostgresDialect } = await import(`${dist}/store/postgres/queries.js`)
const { openStore } = await import(`${dist}/store/open-store.js`)
const url = `postgres://postgres@127.0.0.1/${db}`
await (await openStore(url)).close()
const msg = () => ({ id: createQueueId(), messageId: '<x@y>', envelope: { from: 'a@b.c', to: ['x@example.com'] }, raw: Buffer.alloc(2000, 97), subject: 's', priority: 'normal', sendAt: null, maxAgeMs: 86400000, idempotencyKey: null, tags: [], eightBit: false, smtpUtf8: false, checkSuppression: true })
const c = new pg.Client(url); await c.connect()
const dialect = createPostgresDialect('"outbox"', 'outbox_wake')
let plan = 0, exec = 0, wall = 0
const N = 300
for (let i = 0; i < N + 20; i++) {
  const [q] = dialect.insertMessages([msg()])
  const t = performance.now()
  const r = await c.query('EXPLAIN (ANALYZE) ' + q.text, q.values)
  const w = performance.now() - t
  const lines = r.rows.map((x) => x['QUERY PLAN'])
  if (i >= 20) {
    plan += Number(/Planning Time: ([\d.]+)/.exec(lines.join('\n'))[1])
    exec += Number(/Execution Time: ([\d.]+)/.exec(lines.join('\n'))[1])
    wall += w
  }
}
const t = performance.now()
for (let i = 0; i < N; i++) { const [q] = dialect.insertMessages([msg()]); await c.query(q.text, q.values) }
console.log(dist, 'plan', (plan / N).toFixed(3), 'exec', (exec / N).toFixed(3), 'explain wall', (wall / N).toFixed(3), 'plain autocommit', ((performance.now() - t) / N).toFixed(3))
await c.end()
