import { redactUrl } from '../../delivery/upstream.js'
import type { StoreUrl } from '../../store/store-url.js'
import { fail, ok, withTimeout, type CheckResult } from '../check.js'
import {
  latestVersion,
  schemaLine,
  STORE_TIMEOUT_MS,
  queryFailedLine,
  unreachableLine,
} from './store-lines.js'
import { submissionsLine } from './submissions-line.js'

/** The PostgreSQL store's lines: reachable, schema, SQL enqueue, fsync and synchronous_commit. */
export async function checkPostgres(
  url: string,
  store: Extract<StoreUrl, { kind: 'postgres' }>,
): Promise<CheckResult[]> {
  const where = redactUrl(url)
  // The store's default schema.
  const schemaName = store.schema ?? 'outbox'
  const { default: pg } = await import('pg')
  const client = new pg.Client({
    connectionString: store.connectionString,
    connectionTimeoutMillis: STORE_TIMEOUT_MS,
    query_timeout: STORE_TIMEOUT_MS,
  })
  client.on('error', () => {})
  try {
    await withTimeout(client.connect(), STORE_TIMEOUT_MS, `connecting to ${where}`)
  } catch (error) {
    await client.end().catch(() => undefined)
    return [
      unreachableLine('PostgreSQL', where, error, 'check the server, the URL and its credentials'),
    ]
  }
  const results: CheckResult[] = [ok('store', `PostgreSQL at ${where}, reachable`)]
  try {
    const quoted = `"${schemaName.replaceAll('"', '""')}"`
    const found = await client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [
      `${quoted}.outbox_migrations`,
    ])
    let current: number | null = null
    if (found.rows[0]?.t != null) {
      const row = await client.query<{ v: number | null }>(
        `SELECT max(version) AS v FROM ${quoted}.outbox_migrations`,
      )
      current = Number(row.rows[0]?.v ?? 0)
    }
    results.push(schemaLine(current, latestVersion('postgres'), `schema ${schemaName}`))
    const submissions = await client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [
      `${quoted}.submissions`,
    ])
    if (submissions.rows[0]?.t != null) {
      const { rows } = await client.query<{
        waiting: number
        refused: number
        oldest: number | null
        last_error: string | null
      }>(
        `SELECT count(*) FILTER (WHERE error IS NULL)::int AS waiting,
           count(*) FILTER (WHERE error IS NOT NULL)::int AS refused,
           extract(epoch FROM now() - min(created_at) FILTER (WHERE error IS NULL))::float8 AS oldest,
           (SELECT error FROM ${quoted}.submissions WHERE error IS NOT NULL ORDER BY seq DESC LIMIT 1) AS last_error
         FROM ${quoted}.submissions`,
      )
      const row = rows[0]!
      results.push(
        submissionsLine(
          {
            waiting: row.waiting,
            refused: row.refused,
            oldestSeconds: row.oldest,
            lastError: row.last_error,
          },
          `${schemaName}.submissions`,
        ),
      )
    }
    const fsync = (await client.query<{ fsync: string }>('SHOW fsync')).rows[0]?.fsync
    const commit = (await client.query<{ synchronous_commit: string }>('SHOW synchronous_commit'))
      .rows[0]?.synchronous_commit
    if (fsync === 'off')
      results.push(
        fail(
          'store durability',
          'fsync off: a crash of the server can lose or corrupt committed mail',
          'set fsync = on in postgresql.conf and reload',
        ),
      )
    else if (commit === 'off')
      results.push(
        fail(
          'store durability',
          `fsync ${fsync}, synchronous_commit off: commits are acknowledged before they are on disk`,
          'set synchronous_commit = on (in postgresql.conf, or ALTER ROLE/DATABASE … SET synchronous_commit = on)',
        ),
      )
    else results.push(ok('store durability', `fsync ${fsync}, synchronous_commit ${commit}`))
  } catch (error) {
    results.push(queryFailedLine(where, error))
  } finally {
    await client.end().catch(() => undefined)
  }
  return results
}
