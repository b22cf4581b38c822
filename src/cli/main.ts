#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander'
import { CONFIG_KEYS } from '../config/config-schema.js'
import { packageVersion } from '../version.js'
import { registerActionCommands } from './commands/actions.js'
import { registerBackupCommand } from './commands/backup.js'
import { registerConfigCommand } from './commands/config.js'
import { registerDaemonCommands } from './commands/daemon.js'
import { registerDkimCommand } from './commands/dkim.js'
import { registerDoctorCommand } from './commands/doctor.js'
import { registerEventsCommand } from './commands/events.js'
import { registerHashPasswordCommand } from './commands/hash-password.js'
import { registerListCommand } from './commands/list.js'
import { registerMigrateCommand } from './commands/migrate.js'
import { registerPurgeCommand } from './commands/purge.js'
import { registerSendCommand } from './commands/send.js'
import { registerSendTemplateCommand } from './commands/send-template.js'
import { registerSendmailCommand } from './commands/sendmail.js'
import { registerShowCommand } from './commands/show.js'
import { registerStatsCommand } from './commands/stats.js'
import { registerSuppressCommand } from './commands/suppress.js'
import { registerTemplatesCommand } from './commands/templates.js'
import { registerUpstreamsCommand } from './commands/upstreams.js'
import { registerWebhooksCommand } from './commands/webhooks.js'
import { describeFailure, EXIT } from './context.js'
import { printError } from './terminal.js'

function buildProgram(): Command {
  const program = new Command()
  program
    .name('outbox')
    .description(
      'A durable queue for outgoing email.\n\n' +
        'Configuration, later sources winning: defaults, outbox.config.json (or --config), ' +
        'OUTBOX_* environment variables, then these options.',
    )
    // `-V`, and `--version` through versionFlag(): `templates show` and `render` take `--version N`.
    .version(packageVersion(), '-V', 'output the version number (also --version)')
    .option(
      '--config <path>',
      'config file (default ./outbox.config.json if present; env OUTBOX_CONFIG)',
    )
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()

  // One global option per configuration key, documented with its variable and expected value.
  for (const key of Object.values(CONFIG_KEYS)) {
    program.addOption(
      new Option(`${key.flag} <value>`, `${key.expected} (env ${key.env}; config ${key.file})`),
    )
  }

  registerDaemonCommands(program)
  registerSendCommand(program)
  registerSendTemplateCommand(program)
  registerListCommand(program)
  registerShowCommand(program)
  registerActionCommands(program)
  registerPurgeCommand(program)
  registerStatsCommand(program)
  registerUpstreamsCommand(program)
  registerSuppressCommand(program)
  registerTemplatesCommand(program)
  registerEventsCommand(program)
  registerWebhooksCommand(program)
  registerMigrateCommand(program)
  registerBackupCommand(program)
  registerDoctorCommand(program)
  registerConfigCommand(program)
  registerSendmailCommand(program)
  registerHashPasswordCommand(program)
  registerDkimCommand(program)
  program.commands.forEach((c) =>
    c.exitOverride().showHelpAfterError('(run with --help for usage)'),
  )
  return program
}

/**
 * The arguments with `--version` as `-V` (print the version), except where it is the option of
 * `outbox templates show` or `render` (a template version): the program's options are
 * recognised after the subcommand too, so the program would otherwise take it.
 */
function versionFlag(args: readonly string[]): string[] {
  const templates = args.indexOf('templates')
  const sub = templates === -1 ? -1 : templates + 1
  const takesVersion = sub !== -1 && (args[sub] === 'show' || args[sub] === 'render')
  return args.map((arg, i) => (arg === '--version' && !(takesVersion && i > sub) ? '-V' : arg))
}

buildProgram()
  .parseAsync([...process.argv.slice(0, 2), ...versionFlag(process.argv.slice(2))])
  .catch((error: unknown) => {
    if (error instanceof CommanderError) {
      // Help and version end here too; anything else is bad usage.
      process.exit(error.exitCode === 0 ? EXIT.ok : EXIT.usage)
    }
    const { message, exitCode } = describeFailure(error)
    printError(message)
    process.exit(exitCode)
  })
