import { Resolver } from 'node:dns/promises'
import { resolveDkimSettings, type DkimKeySetting } from '../config/dkim-settings.js'
import { dkimDnsRecord } from '../message/dkim-dns-record.js'
import { fail, ok, reason, warn, withTimeout, type CheckResult } from './check.js'

/** How long DNS may take to answer for one record. */
export const DNS_TIMEOUT_MS = 3000

/** The `p=` tag of a DKIM record, without spaces; null when there is none. */
function publicKeyTag(record: string): string | null {
  for (const tag of record.split(';')) {
    const [name, ...value] = tag.split('=')
    if (name?.trim() === 'p') return value.join('=').replace(/\s+/g, '')
  }
  return null
}

async function checkKey(key: DkimKeySetting): Promise<CheckResult> {
  const record = dkimDnsRecord(key)
  const check = `dkim ${key.domain}`
  const expected = publicKeyTag(record.value)
  const resolver = new Resolver({ timeout: DNS_TIMEOUT_MS, tries: 1 })
  // Ask given servers (the zone's own, or a split-horizon resolver) instead of the system's.
  const servers = process.env.OUTBOX_DNS_SERVERS?.split(',')
    .map((server) => server.trim())
    .filter(Boolean)
  if (servers?.length) resolver.setServers(servers)
  let answers: string[]
  try {
    answers = (
      await withTimeout(
        resolver.resolveTxt(record.name),
        DNS_TIMEOUT_MS + 1000,
        `DNS TXT ${record.name}`,
      )
    ).map((strings) => strings.join(''))
  } catch (error) {
    resolver.cancel()
    const code = (error as { code?: unknown }).code
    if (code === 'ENOTFOUND' || code === 'ENODATA')
      return warn(
        check,
        `key ${key.source} loads (selector ${key.selector}); no TXT record at ${record.name}`,
        `publish: ${record.zoneLine}`,
      )
    return warn(
      check,
      `key ${key.source} loads (selector ${key.selector}); DNS did not answer for ${record.name}: ${reason(error)}`,
      `check again when DNS answers; the record to publish: ${record.zoneLine}`,
    )
  }
  const dkim = answers.filter((a) => /^\s*v\s*=\s*DKIM1\b/i.test(a) || publicKeyTag(a) !== null)
  if (dkim.length === 0)
    return warn(
      check,
      `key ${key.source} loads; ${record.name} has TXT records but none is a DKIM key`,
      `publish: ${record.zoneLine}`,
    )
  if (dkim.some((a) => publicKeyTag(a) === expected))
    return ok(check, `key ${key.source} loads; ${record.name} publishes its public key`)
  return fail(
    check,
    `key ${key.source} loads, but the record at ${record.name} holds another public key`,
    `publish the key's record instead (or configure the key it names): ${record.zoneLine}`,
  )
}

/** One line per configured DKIM key: it loads, and DNS publishes its public half. */
export async function checkDkim(dkim: unknown[] | null): Promise<CheckResult[]> {
  const { settings, problems } = resolveDkimSettings(dkim)
  const results: CheckResult[] = problems.map((problem) =>
    fail('dkim', problem, 'fix the dkim setting; `outbox dkim generate` makes a new key'),
  )
  if (settings.keys.length === 0 && problems.length === 0)
    return [ok('dkim', 'none configured: mail is not signed')]
  results.push(...(await Promise.all(settings.keys.map(checkKey))))
  return results
}
