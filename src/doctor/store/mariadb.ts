import type { Connection } from 'mysql2/promise'
import { redactUrl } from '../../delivery/upstream.js'
import { durabilityWarning } from '../../store/mariadb/server-durability.js'
import type { StoreUrl } from '../../store/store-url.js'
import { ok, warn, withTimeout, type CheckResult } from '../check.js'
import {
  latestVersion,
  schemaLine,
  STORE_TIMEOUT_MS,
  queryFailedLine,
  unreachableLine,
} from './store-lines.js'
import { submissionsLine, type SubmissionCounts } from './submissions-line.js'

/** What `CALL outbox_enqueue()` left in the submissions table (times: ms since the epoch). */
async function submissionCounts(
  connection: Pick<Connection, 'query'>,
  prefix: string,
): Promise<SubmissionCounts> {
  const table = `\`${prefix}submissions\``
  const [rows] = await connection.query(
    `SELECT COALESCE(SUM(error IS NULL), 0) AS waiting,
       COALESCE(SUM(error IS NOT NULL), 0) AS refused,
       (TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(3)) DIV 1000
         - MIN(CASE WHEN error IS NULL THEN created_at END)) / 1000 AS oldest,
       (SELECT error FROM ${table} WHERE error IS NOT NULL ORDER BY seq DESC LIMIT 1) AS last_error
     FROM ${table}`,
  )
  const row = (rows as Record<string, unknown>[])[0] ?? {}
  return {
    waiting: Number(row.waiting ?? 0),
    refused: Number(row.refused ?? 0),
    oldestSeconds: row.oldest == null ? null : Number(row.oldest),
    lastError: typeof row.last_error === 'string' ? row.last_error : null,
  }
}

/** The MariaDB/MySQL store's lines: reachable, schema, SQL enqueue, and the redo log flush. */
export async function checkMariadb(
  url: string,
  store: Extract<StoreUrl, { kind: 'mariadb' }>,
): Promise<CheckResult[]> {
  const where = redactUrl(url)
  // The store's default prefix.
  const prefix = store.prefix ?? 'outbox_'
  const mysql = await import('mysql2/promise')
  let connection: Awaited<ReturnType<typeof mysql.createConnection>>
  try {
    connection = await withTimeout(
      mysql.createConnection({ uri: store.uri, connectTimeout: STORE_TIMEOUT_MS }),
      STORE_TIMEOUT_MS,
      `connecting to ${where}`,
    )
  } catch (error) {
    return [
      unreachableLine(
        'MariaDB/MySQL',
        where,
        error,
        'check the server, the URL and its credentials',
      ),
    ]
  }
  const results: CheckResult[] = [ok('store', `MariaDB/MySQL at ${where}, reachable`)]
  try {
    const exists = async (table: string) => {
      const [found] = await connection.query(
        'SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?',
        [table],
      )
      return (found as unknown[]).length > 0
    }
    let current: number | null = null
    if (await exists(`${prefix}migrations`)) {
      const [rows] = await connection.query(
        `SELECT COALESCE(MAX(version), 0) AS v FROM \`${prefix}migrations\``,
      )
      current = Number((rows as { v: unknown }[])[0]?.v ?? 0)
    }
    results.push(schemaLine(current, latestVersion('mariadb'), `tables ${prefix}*`))
    if (await exists(`${prefix}submissions`)) {
      results.push(
        submissionsLine(await submissionCounts(connection, prefix), `${prefix}submissions`),
      )
    }
    const [rows] = await connection.query('SELECT @@innodb_flush_log_at_trx_commit AS v')
    const value = (rows as { v: unknown }[])[0]?.v
    const warning = durabilityWarning(value)
    results.push(
      warning
        ? warn('store durability', `innodb_flush_log_at_trx_commit ${String(value)}`, warning)
        : ok('store durability', 'innodb_flush_log_at_trx_commit 1'),
    )
  } catch (error) {
    results.push(queryFailedLine(where, error))
  } finally {
    await connection.end().catch(() => undefined)
  }
  return results
}
