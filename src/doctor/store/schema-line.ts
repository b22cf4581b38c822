import { loadMigrations } from '../../store/migrations.js'
import { fail, ok, type CheckResult } from '../check.js'

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
