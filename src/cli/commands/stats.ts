import type { Command } from 'commander'
import { MESSAGE_STATUSES } from '../../message/types.js'
import { withOutbox } from '../context.js'
import type { UpstreamProblem } from '../../store/store.js'
import { age, fields } from '../format.js'

/** What the attempt log says about the upstream, whichever process made the attempts. */
function upstreamLine(problem: UpstreamProblem | null): string {
  if (!problem) return 'Upstream: no problem in the attempt log since the last delivery'
  const what = problem.kind === 'misconfigured' ? 'MISCONFIGURED' : 'unreachable'
  return `Upstream: ${what} (found ${age(problem.at)} ago, nothing delivered since)\n  ${problem.error}`
}

export function registerStatsCommand(program: Command): void {
  program
    .command('stats')
    .description(
      'counts per status, the oldest waiting message, and what was sent or failed in the last hour and day',
    )
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      await withOutbox(command, async (outbox) => {
        const stats = await outbox.admin.stats()
        if (opts.json) {
          const oldestWaitingAgeMs = stats.oldestWaitingAt
            ? Date.now() - stats.oldestWaitingAt.getTime()
            : null
          process.stdout.write(`${JSON.stringify({ ...stats, oldestWaitingAgeMs }, null, 2)}\n`)
          return
        }
        process.stdout.write(
          `${[
            'Messages',
            fields(MESSAGE_STATUSES.map((s) => [s, String(stats.counts[s])])),
            '',
            fields([
              ['oldest waiting', stats.oldestWaitingAt ? age(stats.oldestWaitingAt) : '-'],
              ['sent, last hour', String(stats.sentLastHour)],
              ['sent, last day', String(stats.sentLastDay)],
              ['failed, last hour', String(stats.failedLastHour)],
              ['failed, last day', String(stats.failedLastDay)],
            ]),
            '',
            upstreamLine(stats.upstreamProblem),
            ...(stats.durabilityWarning ? [`Store: WARNING: ${stats.durabilityWarning}`] : []),
          ].join('\n')}\n`,
        )
      })
    })
}
