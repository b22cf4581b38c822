import { loadMigrations } from '../../store/migrations.js'
import { fail, ok, reason, type CheckResult } from '../check.js'

// What the store checks of every backend share: the time they wait, and their common lines
// (unreachable, the schema version, a query that failed).

/** How long the store may take to answer. */
export const STORE_TIMEOUT_MS = 5000

export function latestVersion(backend: 'sqlite' | 'postgres' | 'mariadb'): number {
  return loadMigrations(new URL(`../../store/${backend}/migrations/`, import.meta.url)).length
}

/** The schema line: the version found against the versions this Outbox knows. */
export function schemaLine(current: number | null, latest: number, where: string): CheckResult {
  if (current === null || current === 0)
    return fail('store schema', `no Outbox schema in ${where}`, 'run outbox migrate')
  if (current > latest)
    return fail(
      'store schema',
      `version ${current}, newer than this Outbox knows (up to ${latest})`,
      'a newer Outbox upgraded it: upgrade this installation of outbox too',
    )
  if (current < latest)
    return fail(
      'store schema',
      `version ${current}, this Outbox needs ${latest}`,
      'run outbox migrate (outbox start migrates too)',
    )
  return ok('store schema', `version ${current}, current`)
}

/** The store line of a server that does not answer. */
export function unreachableLine(
  server: string,
  where: string,
  error: unknown,
  fix: string,
): CheckResult {
  return fail('store', `cannot reach ${server} at ${where}: ${reason(error)}`, fix)
}

/** The store line of a query the server refused, after it was reached. */
export function queryFailedLine(where: string, error: unknown): CheckResult {
  return fail(
    'store',
    `query failed on ${where}: ${reason(error)}`,
    'check the server and its permissions',
  )
}
