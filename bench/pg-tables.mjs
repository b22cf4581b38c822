// PostgreSQL's own account of a delivery run: rows inserted and updated per table of the bench
// schema, how many updates were HOT (heap-only: no index entry written, possible only when no
// indexed column changes and the page has room), and how many indexes each table has.
import pg from 'pg'
import { POSTGRES_URL, sleep } from './common.mjs'

const STATS = `
  SELECT relname AS table, n_tup_ins::int8 AS inserted, n_tup_upd::int8 AS updated,
         n_tup_hot_upd::int8 AS hot
    FROM pg_stat_user_tables WHERE schemaname = $1 ORDER BY relname`
const INDEXES = `SELECT tablename AS table, array_agg(indexname::text ORDER BY indexname) AS names
                   FROM pg_indexes WHERE schemaname = $1 GROUP BY tablename`

/**
 * Per-table counts of the schema named in `storeUrl`. The statistics reach the shared view a
 * moment after the backends that did the work flush them (at the latest when they exit, and the
 * store's connections are closed by then), so this reads until two readings 500 ms apart agree
 * (at most 10 s).
 */
export async function readTableStats(storeUrl) {
  const schema = new URL(storeUrl).searchParams.get('schema')
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 })
  await client.connect()
  try {
    const read = async () => {
      // A transaction's first read of the statistics is cached until this is called.
      await client.query('SELECT pg_stat_clear_snapshot()')
      return (await client.query(STATS, [schema])).rows
    }
    const deadline = Date.now() + 10_000
    let rows = await read()
    let settled = false
    while (Date.now() < deadline) {
      await sleep(500)
      const again = await read()
      settled =
        JSON.stringify(again) === JSON.stringify(rows) && again.some((r) => Number(r.updated) > 0)
      rows = again
      if (settled) break
    }
    const indexes = new Map(
      (await client.query(INDEXES, [schema])).rows.map((r) => [r.table, r.names]),
    )
    const tables = {}
    for (const r of rows) {
      const [inserted, updated, hot] = [r.inserted, r.updated, r.hot].map(Number)
      if (inserted === 0 && updated === 0) continue
      tables[r.table] = {
        inserted,
        updated,
        hotUpdated: hot,
        hotRatio: updated > 0 ? hot / updated : null,
        indexes: indexes.get(r.table)?.length ?? 0,
        indexNames: indexes.get(r.table) ?? [],
      }
    }
    return { schema, settled, tables }
  } finally {
    await client.end().catch(() => undefined)
  }
}
