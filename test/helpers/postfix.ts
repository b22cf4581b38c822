import { execFile, execFileSync } from 'node:child_process'
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { connect } from 'node:net'
import { freePort } from './free-port.js'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const POSTFIX = '/usr/sbin/postfix'

/**
 * Whether this machine has Postfix (Debian's `postfix` package). In CI (CI=true) a missing
 * Postfix fails loudly; elsewhere the Postfix tests are skipped with the reason printed.
 */
export function postfixAvailable(): boolean {
  const ok = existsSync(POSTFIX) && userInfo().uid === 0 && hasUser('postfix')
  if (!ok) {
    const reason = `Postfix tests need ${POSTFIX} (apt-get install postfix) and root`
    if (process.env.CI === 'true') throw new Error(`${reason}; .ci/run installs it.`)
    console.warn(`SKIPPING Postfix tests: ${reason}.`)
  }
  return ok
}

function hasUser(name: string): boolean {
  try {
    return readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .some((l) => l.startsWith(`${name}:`))
  } catch {
    return false
  }
}

export { selfSignedCertificate } from './tls-certificate.js'

/** Options of {@link startPostfix}. */
export interface PostfixOptions {
  /** Where Postfix relays all mail: `host:port` of the next hop (an Outbox listener, a sink). */
  relayhost: string
  /** Extra main.cf settings, e.g. `smtpd_client_connection_count_limit`. */
  settings?: Record<string, string>
  /**
   * Lookup tables by name (`recipient_access`): written and compiled with postmap as `hash:`.
   * Settings name them as `hash:$config_directory/recipient_access`.
   */
  maps?: Record<string, string>
  /** Offer STARTTLS on its SMTP server with this certificate. */
  tls?: { key: string; cert: string }
}

/** A private Postfix: its own configuration, queue and log, on a loopback port of its own. */
export interface PostfixInstance {
  /** Its SMTP server, on 127.0.0.1. */
  readonly port: number
  /** Its configuration folder (pass to `postfix -c`). */
  readonly configDir: string
  /** `hash:<configDir>/<name>` for a table given in `maps`. */
  map(name: string): string
  /** Rewrites a table (postmap): new sessions see it, a session already open keeps the old one. */
  setMap(name: string, content: string): Promise<void>
  /** Its mail log so far. */
  log(): string
  /** Messages in its queue (postqueue -p). */
  queued(): Promise<number>
  /** Retries every deferred message now (postqueue -f). */
  flush(): Promise<void>
  stop(): Promise<void>
}

const running = new Set<string>()
// A test process that dies must not leave Postfix daemons behind.
process.once('exit', () => {
  for (const configDir of running) {
    try {
      execFileSync(POSTFIX, ['-c', configDir, 'abort'], { stdio: 'ignore' })
    } catch {
      // Already stopped.
    }
  }
})

async function waitForPort(port: number, timeoutMs: number, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port })
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (open) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`Postfix did not listen on ${port} within ${timeoutMs} ms:\n${log()}`)
}

/** Starts a private Postfix instance; stop it with `stop()`. */
export async function startPostfix(options: PostfixOptions): Promise<PostfixInstance> {
  // Postfix's daemons run as the postfix user: the folders must be reachable for it.
  const dir = mkdtempSync(join(tmpdir(), 'outbox-postfix-'))
  chmodSync(dir, 0o755)
  const configDir = join(dir, 'conf')
  const dataDir = join(dir, 'data')
  for (const d of [configDir, join(dir, 'queue'), dataDir]) mkdirSync(d)
  const { uid } = userInfoOf('postfix')
  chownSync(dataDir, uid, -1)
  const port = await freePort()
  const logFile = join(dir, 'maillog')
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '')

  const settings: Record<string, string> = {
    compatibility_level: '3.6',
    queue_directory: join(dir, 'queue'),
    data_directory: dataDir,
    mail_owner: 'postfix',
    setgid_group: 'postdrop',
    myhostname: 'postfix.test',
    mydomain: 'postfix.test',
    myorigin: 'postfix.test',
    mydestination: '',
    inet_interfaces: '127.0.0.1',
    inet_protocols: 'ipv4',
    mynetworks: '127.0.0.0/8',
    relayhost: `[${options.relayhost.replace(/:(\d+)$/, ']:$1')}`,
    alias_maps: '',
    alias_database: '',
    local_recipient_maps: '',
    maillog_file: logFile,
    maillog_file_prefixes: tmpdir(),
    smtp_tls_security_level: 'none',
    smtpd_tls_security_level: options.tls ? 'may' : 'none',
    ...(options.tls
      ? { smtpd_tls_cert_file: options.tls.cert, smtpd_tls_key_file: options.tls.key }
      : {}),
    // Tests cannot wait Postfix's minutes: retry deferred mail within seconds.
    queue_run_delay: '1s',
    minimal_backoff_time: '1s',
    maximal_backoff_time: '2s',
    smtp_connect_timeout: '5s',
    // Anvil's limits apply to loopback clients too (by default $mynetworks is exempt).
    smtpd_client_event_limit_exceptions: '',
    ...options.settings,
  }
  writeFileSync(
    join(configDir, 'main.cf'),
    Object.entries(settings)
      .map(([k, v]) => `${k} = ${v}`)
      .join('\n') + '\n',
  )
  // The packaged master.cf, with its SMTP server moved to our port and nothing chrooted.
  const master = readFileSync('/etc/postfix/master.cf.proto', 'utf8')
    .replace(/^smtp\s+inet\s.*$/m, `127.0.0.1:${port} inet n - n - - smtpd`)
    .replace(/^(\S+\s+\S+\s+\S+\s+\S+\s+)y(\s)/gm, '$1n$2')
  writeFileSync(join(configDir, 'master.cf'), master)
  // postmap reads main.cf: ours (`-c`), as Debian's "No configuration" install has none.
  const postmap = (name: string) =>
    run('postmap', ['-c', configDir, `hash:${join(configDir, name)}`])

  running.add(configDir)
  try {
    for (const [name, content] of Object.entries(options.maps ?? {})) {
      writeFileSync(join(configDir, name), content)
      await postmap(name)
    }
    await run(POSTFIX, ['-c', configDir, 'start'])
    await waitForPort(port, 15_000, log)
  } catch (error) {
    running.delete(configDir)
    await run(POSTFIX, ['-c', configDir, 'abort']).catch(() => undefined)
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`Postfix did not start: ${(error as Error).message}\n${log()}`)
  }

  return {
    port,
    configDir,
    map: (name) => `hash:${join(configDir, name)}`,
    async setMap(name, content) {
      writeFileSync(join(configDir, name), content)
      await postmap(name)
    },
    log,
    async queued() {
      const { stdout } = await run('postqueue', ['-c', configDir, '-j'])
      return stdout.split('\n').filter((line) => line.trim().startsWith('{')).length
    },
    async flush() {
      await run('postqueue', ['-c', configDir, '-f'])
    },
    async stop() {
      if (!running.delete(configDir)) return
      const pidFile = join(dir, 'queue', 'pid', 'master.pid')
      const pid = existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim() : ''
      await run(POSTFIX, ['-c', configDir, 'stop']).catch(() => undefined)
      // `stop` returns before the master has gone: wait for it, then make sure.
      const alive = () => pid !== '' && existsSync(`/proc/${pid}`)
      const deadline = Date.now() + 15_000
      while (alive() && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      if (alive()) await run(POSTFIX, ['-c', configDir, 'abort']).catch(() => undefined)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

function userInfoOf(name: string): { uid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`))
  if (!line) throw new Error(`no user ${name}`)
  return { uid: Number(line.split(':')[2]) }
}
