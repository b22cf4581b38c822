import type { Command } from 'commander'
import type { RoutingOverview, UpstreamOverview } from '../../admin/upstream-overview.js'
import { withOutbox } from '../context.js'
import { age, table } from '../format.js'

/** `14/s`, or `7/s of 14/s` when throttling lowered it. */
function rate(current: number | null, configured: number | null, text: string | null): string {
  if (configured === null && current !== null) {
    return `${formatPerSecond(current)} (throttled; no rateLimit set)`
  }
  if (configured === null || current === null || text === null) return 'unlimited'
  if (current >= configured - 1e-9) return text
  return `${formatPerSecond(current)} of ${text} (throttled)`
}

function formatPerSecond(perSec: number): string {
  if (perSec >= 1) return `${Math.round(perSec * 10) / 10}/s`
  return `${Math.round(perSec * 600) / 10}/m`
}

function state(u: UpstreamOverview): string {
  if (u.state === 'unknown') return 'unknown (no worker running)'
  if (u.state === 'up') return 'up'
  const what = u.misconfigured ? 'MISCONFIGURED' : 'down'
  return `${what} for ${u.downSince ? age(u.downSince) : '?'} (probing)`
}

/** The human view: a table of upstreams, their last errors, and the limited domains. */
export function formatRoutingOverview(overview: RoutingOverview): string {
  const lines = [
    table(
      ['UPSTREAM', 'STATE', 'RATE', 'CONNECTIONS', 'SENT/1H', 'DEFERRED/1H', 'FAILED/1H'],
      overview.upstreams.map((u) => [
        u.name,
        state(u),
        rate(u.currentRatePerSec, u.configuredRatePerSec, u.rateLimit),
        `${u.connections}${u.maxConnections !== null ? ` of ${u.maxConnections}` : ''}`,
        String(u.lastHour.sent),
        String(u.lastHour.deferred),
        String(u.lastHour.failed),
      ]),
    ),
  ]
  const errors = overview.upstreams.filter((u) => u.lastError)
  if (errors.length > 0) {
    lines.push('', 'Last errors')
    for (const u of errors) {
      lines.push(
        `  ${u.name}${u.lastError!.at ? ` (${age(u.lastError!.at)} ago)` : ''}: ${u.lastError!.error}`,
      )
    }
  }
  if (overview.domains.length > 0) {
    lines.push(
      '',
      table(
        ['DOMAIN', 'RATE'],
        overview.domains.map((d) => [
          d.domain,
          rate(d.currentRatePerSec, d.configuredRatePerSec, d.rateLimit),
        ]),
      ),
    )
  }
  return lines.join('\n')
}

export function registerUpstreamsCommand(program: Command): void {
  program
    .command('upstreams')
    .description(
      'each upstream as every running worker sees it: up or down, current and configured rate, connections, the last hour, the last error',
    )
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      await withOutbox(command, async (outbox) => {
        const overview = await outbox.admin.upstreams()
        process.stdout.write(
          opts.json
            ? `${JSON.stringify(overview, null, 2)}\n`
            : `${formatRoutingOverview(overview)}\n`,
        )
      })
    })
}
