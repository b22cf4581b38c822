import type { MergedConfig } from '../config/config-sources.js'
import type { OutboxConfig } from '../config/config-schema.js'
import { fail, ok, type CheckResult } from './check.js'

/**
 * Loads the configuration with `load` (the CLI's merge of file, environment and flags), which
 * either returns it or throws with its problems, one per line after the first.
 */
export function checkConfig(load: () => MergedConfig): {
  config: OutboxConfig | null
  result: CheckResult
} {
  let merged: MergedConfig
  try {
    merged = load()
  } catch (error) {
    const lines = ((error as Error).message ?? String(error))
      .split('\n')
      .slice(1)
      .map((line) => line.trim())
      .filter(Boolean)
    const problems = lines.length > 0 ? lines : [(error as Error).message]
    return {
      config: null,
      result: fail(
        'config',
        `does not load: ${problems.join('; ')}`,
        'fix each setting named (see `outbox config` and the README section Configuration)',
      ),
    }
  }
  const from = [...new Set(Object.values(merged.sources).map((s) => s.replace(/ \(.*\)$/, '')))]
  return { config: merged.config, result: ok('config', `valid (settings from ${from.join(', ')})`) }
}
