import type { Command } from 'commander'
import { runChecks, type CheckResult } from '../../doctor/run-checks.js'
import { commandConfig, EXIT } from '../context.js'
import { printOut } from '../terminal.js'

/** `ok    store: found — fix`, one line per check. */
function line(result: CheckResult): string {
  const fix = result.fix ? ` — ${result.fix}` : ''
  return `${result.status.padEnd(4)}  ${result.check}: ${result.found}${fix}`
}

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description(
      'check the configuration, the store, the upstreams, DKIM keys, disk space and ports; ' +
        'one line per check with what to do; exit 1 if a check fails, 2 if the config does not load',
    )
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      const { configLoads, results } = await runChecks(() => commandConfig(command))
      const failed = results.some((r) => r.status === 'fail')
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ ok: !failed, checks: results }, null, 2)}\n`)
      } else {
        printOut(`${results.map(line).join('\n')}\n`)
      }
      process.exitCode = !configLoads ? EXIT.usage : failed ? EXIT.failed : EXIT.ok
    })
}
