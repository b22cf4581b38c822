import { createServer } from 'node:net'
import { hostPort, parseListenAddress } from '../config/listen-address.js'
import { fail, ok, reason, warn, type CheckResult } from './check.js'

/** Binds `address` and closes it at once: whether Outbox could listen there. */
export async function checkPort(what: string, address: string): Promise<CheckResult> {
  const check = `port ${what}`
  let host: string
  let port: number
  try {
    ;({ host, port } = parseListenAddress(address, what))
  } catch (error) {
    return fail(check, reason(error), 'use host:port, such as 127.0.0.1:2525')
  }
  const where = hostPort(host, port)
  const server = createServer()
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ host, port, exclusive: true }, () => resolve())
    })
  } catch (error) {
    const code = (error as { code?: unknown }).code
    if (code === 'EADDRINUSE')
      return warn(
        check,
        `${where} in use: is outbox already running?`,
        `if not, stop what listens there (ss -ltnp 'sport = :${port}') or change ${what}`,
      )
    if (code === 'EACCES')
      return fail(
        check,
        `${where}: not allowed to listen (${String(code)})`,
        'a port below 1024 needs CAP_NET_BIND_SERVICE (AmbientCapabilities in systemd), or use a higher port',
      )
    if (code === 'EADDRNOTAVAIL')
      return fail(
        check,
        `${where}: no such address on this machine`,
        `change ${what} to an address of this machine`,
      )
    return fail(check, `${where}: ${reason(error)}`, `change ${what}`)
  } finally {
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  return ok(check, `${where} free`)
}

/** `smtp.listen`, `smtp.tlsListen` and `http.listen`, each that is set. */
export async function checkPorts(listen: {
  smtp: string
  smtpTls: string | null
  http: string | null
}): Promise<CheckResult[]> {
  const results = [await checkPort('smtp.listen', listen.smtp)]
  if (listen.smtpTls) results.push(await checkPort('smtp.tlsListen', listen.smtpTls))
  if (listen.http) results.push(await checkPort('http.listen', listen.http))
  return results
}
