import type { Command } from 'commander'
import { CONFIG_KEYS, type OutboxConfig } from '../../config/config-schema.js'
import { redactConfig } from '../../config/config-sources.js'
import { formatDuration } from '../../config/duration.js'
import { formatRateLimit, type RateLimit } from '../../config/rate-limit.js'
import { formatBytes } from '../../message/format-bytes.js'
import { commandConfig } from '../context.js'
import { table } from '../format.js'
import { redactWebhooks } from '../webhook-redaction.js'

function display(key: keyof OutboxConfig, value: OutboxConfig[keyof OutboxConfig]): string {
  if (value === null) return 'none'
  if (
    key === 'upstreams' ||
    key === 'routes' ||
    key === 'domainLimits' ||
    key === 'dkim' ||
    key === 'webhooks'
  )
    return JSON.stringify(value)
  if (Array.isArray(value)) {
    return (
      (value as (string | { username: string })[])
        .map((v) => (typeof v === 'string' ? v : `${v.username}:***`))
        .join(',') || 'none'
    )
  }
  if (typeof value === 'object') return formatRateLimit(value as RateLimit)
  if (key.endsWith('Ms') && typeof value === 'number') return formatDuration(value)
  if (key === 'maxMessageSize' && typeof value === 'number') return formatBytes(value)
  return String(value)
}

export function registerConfigCommand(program: Command): void {
  program
    .command('config')
    .description(
      'print the effective configuration and where each value came from (secrets redacted)',
    )
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }, command: Command) => {
      const { config, sources } = commandConfig(command)
      const shown = { ...redactConfig(config), webhooks: redactWebhooks(config.webhooks) }
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ config: shown, sources }, null, 2)}\n`)
        return
      }
      const keys = Object.keys(CONFIG_KEYS) as (keyof OutboxConfig)[]
      process.stdout.write(
        `${table(
          ['KEY', 'VALUE', 'FROM'],
          keys.map((k) => [CONFIG_KEYS[k].file, display(k, shown[k]), sources[k]]),
        )}\n`,
      )
    })
}
