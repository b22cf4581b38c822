import { generateKeyPairSync } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { Option, type Command } from 'commander'
import {
  DKIM_ALGORITHMS,
  isSelector,
  MIN_RSA_BITS,
  resolveDkimSettings,
  type DkimAlgorithm,
} from '../../config/dkim-settings.js'
import { normaliseDomain } from '../../config/routing-settings.js'
import { dkimDnsRecord, type DkimDnsRecord } from '../../message/dkim-dns-record.js'
import { keyForDomain } from '../../message/dkim-sign.js'
import { CliExit, commandConfig, EXIT } from '../context.js'
import { fields } from '../format.js'
import { printError, printOut } from '../terminal.js'

/** The record as people read it: where it goes, what it holds, and the zone-file line. */
function formatRecord(record: DkimDnsRecord): string {
  return [
    `Publish this TXT record for ${record.domain} (selector ${record.selector}, ${record.algorithm}):`,
    '',
    fields([
      ['name', record.name],
      ['type', record.type],
      ['value', record.value],
    ]),
    '',
    'As a zone-file line (the value split into strings of at most 255 characters):',
    '',
    `  ${record.zoneLine}`,
  ].join('\n')
}

function domainArgument(text: string, what: string): string {
  const domain = normaliseDomain(text)
  if (!domain) throw new CliExit(EXIT.usage, `${what} ${JSON.stringify(text)} is not a domain name`)
  return domain
}

function dns(domainText: string, opts: { json?: boolean }, command: Command): void {
  const domain = domainArgument(domainText, 'domain')
  const { config } = commandConfig(command)
  const { settings, problems } = resolveDkimSettings(config.dkim)
  if (problems.length > 0) {
    throw new CliExit(
      EXIT.usage,
      `invalid DKIM configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`,
    )
  }
  let keys = settings.keys.filter((key) => key.domain === domain)
  if (keys.length === 0) {
    const parent = keyForDomain(new Map(settings.keys.map((k) => [k.domain, k])), domain)
    if (!parent) {
      const known = settings.keys.map((k) => k.domain).join(', ') || 'none'
      throw new CliExit(
        EXIT.usage,
        `no DKIM key is configured for ${domain} (configured: ${known}); add one to \`dkim\` in the configuration, ` +
          `or make one with \`outbox dkim generate --domain ${domain} --selector s1 --out ${domain}.pem\``,
      )
    }
    // Its mail is signed with the parent's key (d=parent): that record is the one to publish.
    if (!opts.json) {
      printError(`${domain} has no key of its own: its mail is signed with ${parent.domain}'s key`)
    }
    keys = [parent]
  }
  const records = keys.map((key) => dkimDnsRecord(key))
  if (opts.json) process.stdout.write(`${JSON.stringify(records, null, 2)}\n`)
  else printOut(`${records.map(formatRecord).join('\n\n')}\n`)
}

interface GenerateOptions {
  domain: string
  selector: string
  algorithm: DkimAlgorithm
  bits?: string
  out: string
  json?: boolean
}

function generate(opts: GenerateOptions): void {
  const domain = domainArgument(opts.domain, '--domain')
  if (!isSelector(opts.selector)) {
    throw new CliExit(
      EXIT.usage,
      `--selector ${JSON.stringify(opts.selector)} is not a DNS label; use letters, digits and "-", such as s1 or 2024a`,
    )
  }
  const algorithm = opts.algorithm
  let bits = 2048
  if (opts.bits !== undefined) {
    bits = /^\d+$/.test(opts.bits) ? Number(opts.bits) : NaN
    if (algorithm !== 'rsa-sha256') {
      throw new CliExit(EXIT.usage, '--bits is for RSA keys; an Ed25519 key has no size to choose')
    }
    if (!Number.isInteger(bits) || bits < MIN_RSA_BITS || bits > 8192 || bits % 8 !== 0) {
      throw new CliExit(
        EXIT.usage,
        `--bits ${opts.bits}: expected a multiple of 8 from ${MIN_RSA_BITS} to 8192 (2048 is what receivers expect)`,
      )
    }
  }
  const { privateKey } =
    algorithm === 'ed25519-sha256'
      ? generateKeyPairSync('ed25519')
      : generateKeyPairSync('rsa', { modulusLength: bits })
  const path = resolve(opts.out)
  try {
    // Never over an existing file: a key whose selector is published must not be lost.
    writeFileSync(path, privateKey.export({ type: 'pkcs8', format: 'pem' }), {
      mode: 0o600,
      flag: 'wx',
    })
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new CliExit(
      EXIT.usage,
      code === 'EEXIST'
        ? `${path} exists already; Outbox does not overwrite a key: choose another --out, or remove that file first`
        : `cannot write ${path}: ${code ?? (error as Error).message}`,
    )
  }
  const entry = { domain, selector: opts.selector, privateKey: `file:${path}`, algorithm }
  const record = dkimDnsRecord({ domain, selector: opts.selector, algorithm, privateKey })
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ file: path, config: entry, record }, null, 2)}\n`)
    return
  }
  printOut(
    [
      `Wrote a new ${algorithm === 'rsa-sha256' ? `${bits}-bit RSA` : 'Ed25519'} private key to ${path} (readable by you only).`,
      '',
      'Add this entry to "dkim" in outbox.config.json (a list; one entry per domain):',
      '',
      `  ${JSON.stringify(entry)}`,
      '',
      formatRecord(record),
      '',
      'Publish the record before you turn signing on: receivers fail signatures they cannot check.',
      '',
    ].join('\n'),
  )
}

export function registerDkimCommand(program: Command): void {
  const dkim = program
    .command('dkim')
    .description('DKIM signing keys: the DNS records to publish, and new keys')
  dkim
    .command('dns')
    .description('print the DNS TXT record to publish for each configured DKIM key of a domain')
    .argument('<domain>', 'the signing domain, as in the dkim setting')
    .option('--json', 'print JSON')
    .action((domain: string, opts: { json?: boolean }, command: Command) =>
      dns(domain, opts, command),
    )
  dkim
    .command('generate')
    .description(
      'write a new DKIM private key (mode 0600) and print its config entry and DNS record',
    )
    .requiredOption('--domain <domain>', 'the domain whose mail it signs')
    .requiredOption(
      '--selector <selector>',
      'the selector, such as s1 (the record goes at <selector>._domainkey.<domain>)',
    )
    .addOption(
      new Option('--algorithm <algorithm>', 'signing algorithm')
        .choices([...DKIM_ALGORITHMS])
        .default('rsa-sha256'),
    )
    .option('--bits <bits>', 'RSA key size (default 2048)')
    .requiredOption('--out <file>', 'where to write the PEM private key (must not exist)')
    .option('--json', 'print JSON')
    .action((opts: GenerateOptions) => generate(opts))
  for (const command of dkim.commands) {
    command.exitOverride().showHelpAfterError('(run with --help for usage)')
  }
}
