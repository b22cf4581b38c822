import { lookup } from 'node:dns/promises'
import nodemailer from 'nodemailer'
import { ConfigError } from '../errors.js'
import { redactUrl } from '../delivery/upstream.js'
import { smtpSettingsFromUrl } from '../delivery/smtp-settings.js'
import { DEFAULT_CONNECTION_LIMITS } from '../delivery/smtp-connections.js'
import { fail, ok, reason, warn, withTimeout, type CheckResult } from './check.js'

/** How long each network step may take. */
export const UPSTREAM_TIMEOUT_MS = 5000

/** Each upstream to check by name: `default` (the `upstream` setting), then the named ones. */
export function upstreamSpecs(
  upstream: string,
  upstreams: Record<string, unknown> | null,
): { name: string; spec: unknown }[] {
  const list: { name: string; spec: unknown }[] = [{ name: 'default', spec: upstream }]
  for (const [name, entry] of Object.entries(upstreams ?? {})) {
    const spec = entry && typeof entry === 'object' && 'url' in entry ? entry.url : entry
    if (name !== 'default') list.push({ name, spec })
  }
  return list
}

/** The certificate problem a TLS error names, in words, or null when it is not one. */
function certificateProblem(error: unknown): string | null {
  const e = error as { code?: string; message?: string }
  const text = `${String(e.code ?? '')} ${String(e.message ?? '')}`
  if (/CERT_HAS_EXPIRED|certificate has expired/i.test(text)) return 'the certificate has expired'
  if (/SELF_SIGNED|self[- ]signed/i.test(text)) return 'the certificate is self-signed'
  if (/ERR_TLS_CERT_ALTNAME_INVALID|does not match certificate|altnames/i.test(text))
    return `the certificate is for another name (${String(e.message)})`
  if (/UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to (get|verify)|CERT_UNTRUSTED|issuer/i.test(text))
    return `the certificate is not signed by a trusted authority (${String(e.message)})`
  if (/CERT_NOT_YET_VALID|not yet valid/i.test(text)) return 'the certificate is not valid yet'
  return null
}

/** Removes the password wherever it appears in a text. */
function hide(text: string, password: string): string {
  return password ? text.split(password).join('***') : text
}

/** One upstream: DNS, TCP, greeting and EHLO, TLS with the certificate, AUTH (Nodemailer's verify). */
export async function checkUpstream(name: string, spec: unknown): Promise<CheckResult> {
  const check = `upstream ${name}`
  if (spec === 'capture' || spec === undefined || spec === null)
    return ok(check, 'capture: mail is captured, not sent')
  if (typeof spec !== 'string')
    return ok(check, 'not a URL (given in code): not checked by outbox doctor')
  const where = redactUrl(spec)
  let url: URL
  let settings: ReturnType<typeof smtpSettingsFromUrl>
  try {
    url = new URL(spec)
    if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:')
      throw new ConfigError('upstream', `unsupported scheme ${url.protocol}`)
    settings = smtpSettingsFromUrl(new URL(spec), {
      ...DEFAULT_CONNECTION_LIMITS,
      maxConnections: 1,
    })
  } catch (error) {
    return fail(
      check,
      `${where} is not a usable upstream: ${reason(error)}`,
      'use smtp://user:pass@host:port, smtps://… or capture',
    )
  }
  const password = settings.session.auth?.pass ?? ''
  const say = (text: string): string => hide(text, password)
  const host = url.hostname.replace(/^\[|\]$/g, '')
  const connection = settings.session.connection as Record<string, unknown>
  const port = Number(connection.port ?? (url.protocol === 'smtps:' ? 465 : 587))
  let address: string
  try {
    address = (await withTimeout(lookup(host), UPSTREAM_TIMEOUT_MS, `DNS lookup of ${host}`))
      .address
  } catch (error) {
    return fail(
      check,
      `${where}: DNS lookup of ${host} failed: ${reason(error)}`,
      'check the host name in the upstream URL',
    )
  }
  const tls = connection.tls as { rejectUnauthorized?: unknown } | undefined
  const unverified = tls?.rejectUnauthorized === false || tls?.rejectUnauthorized === 'false'
  const transporter = nodemailer.createTransport({
    ...connection,
    ...(settings.session.auth ? { auth: settings.session.auth } : {}),
    connectionTimeout: UPSTREAM_TIMEOUT_MS,
    greetingTimeout: UPSTREAM_TIMEOUT_MS,
    socketTimeout: UPSTREAM_TIMEOUT_MS * 2,
    dnsTimeout: UPSTREAM_TIMEOUT_MS,
  } as Parameters<typeof nodemailer.createTransport>[0])
  try {
    await withTimeout(transporter.verify(), UPSTREAM_TIMEOUT_MS * 4, `checking ${where}`)
  } catch (error) {
    const e = error as { code?: string; command?: string; message?: string }
    const message = say(String(e.message ?? error))
    const code = String(e.code ?? '')
    const command = String(e.command ?? '')
    const certificate = certificateProblem(error)
    if (certificate)
      return fail(
        check,
        `${where}: TLS failed: ${say(certificate)}`,
        'fix the server certificate, or connect by the name it is for; ?tls.rejectUnauthorized=false skips verification (not for production)',
      )
    if (code === 'EAUTH' || command.startsWith('AUTH'))
      return fail(
        check,
        `${where}: AUTH failed: ${message}`,
        'check the user and password in the upstream URL',
      )
    if (code === 'ETLS' || command === 'STARTTLS')
      return fail(
        check,
        `${where}: STARTTLS failed: ${message}`,
        'check the port and TLS settings (smtps:// for port 465)',
      )
    if (code === 'ETIMEDOUT')
      return fail(
        check,
        `${where}: no answer from ${address}:${port}: ${message}`,
        'check the host, port and any firewall',
      )
    if (
      /ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ECONNRESET/.test(`${message} ${code}`) ||
      (code === 'ECONNECTION' && command === 'CONN') ||
      code === 'ESOCKET'
    )
      return fail(
        check,
        `${where}: TCP connect to ${address}:${port} failed: ${message}`,
        'check the host and port, and that the server runs',
      )
    if (code === 'EPROTOCOL' || command === 'EHLO' || command === 'HELO')
      return fail(
        check,
        `${where}: greeting or EHLO failed: ${message}`,
        'check that the port is an SMTP server',
      )
    return fail(
      check,
      `${where}: ${message}${code ? ` (${code})` : ''}`,
      'check the upstream URL and the server',
    )
  } finally {
    transporter.close()
  }
  const secured =
    url.protocol === 'smtps:'
      ? 'implicit TLS'
      : connection.ignoreTLS
        ? 'no TLS'
        : 'STARTTLS if offered'
  const login = settings.session.auth ? `, AUTH as ${settings.session.auth.user} ok` : ''
  const found = `${where}: ${host} → ${address}, connected to port ${port}, EHLO ok (${secured})${login}`
  if (unverified)
    return warn(
      check,
      `${found}; TLS certificate not verified (tls.rejectUnauthorized=false)`,
      'remove tls.rejectUnauthorized=false once the server has a valid certificate',
    )
  return ok(check, found)
}
