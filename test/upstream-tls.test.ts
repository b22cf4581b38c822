import { SMTPServer, type SMTPServerOptions } from 'smtp-server'
import { afterEach, describe, expect, it } from 'vitest'
import { createUpstream, type Upstream } from '../src/delivery/upstream.js'
import { ConfigError, createOutbox, type Outbox } from '../src/index.js'
import { runCli } from './helpers/run-cli.js'
import { tempSqlitePath, waitUntil } from './helpers/temp.js'

// smtp-server offers STARTTLS with a certificate of its own that has expired: exactly the
// misconfigured upstream these tests need. Every other test sink hides STARTTLS.

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

interface Server {
  port: number
  connections: number
  /** Per accepted message: whether the session was over TLS. */
  secure: boolean[]
}

async function server(options: Partial<SMTPServerOptions> = {}, delayMs = 0): Promise<Server> {
  const state: Server = { port: 0, connections: 0, secure: [] }
  const s = new SMTPServer({
    authOptional: true,
    disableReverseLookup: true,
    logger: false,
    onConnect(_session, callback) {
      state.connections++
      callback()
    },
    onData(stream, session, callback) {
      stream.resume()
      stream.on('end', () =>
        setTimeout(() => {
          state.secure.push(session.secure)
          callback()
        }, delayMs),
      )
    },
    ...options,
  })
  // A client giving up on the expired certificate makes the server report a TLS error.
  s.on('error', () => {})
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  state.port = (s.server.address() as { port: number }).port
  cleanups.push(() => new Promise<void>((resolve) => s.close(() => resolve())))
  return state
}

function upstream(url: string, maxConnections = 10): Upstream {
  const u = createUpstream(url, { maxConnections })
  cleanups.push(() => u.close())
  return u
}

const message = (i = 0) => ({
  id: `m${i}`,
  messageId: `<m${i}@example.com>`,
  from: 's@example.com',
  recipients: ['r@example.com'],
  raw: Buffer.from(`Message-ID: <m${i}@example.com>\r\nSubject: tls\r\n\r\nbody\r\n`),
})

describe('an upstream with a bad TLS certificate', () => {
  it(
    'is a configuration problem: logged once with the fix, shown by `outbox stats` in another process, and no message burns attempts or expires',
    { timeout: 60_000 },
    async () => {
      const tls = await server()
      const path = tempSqlitePath()
      const errors: { obj: object; msg: string }[] = []
      const logger = {
        debug() {},
        info() {},
        warn() {},
        error: (obj: object, msg?: string) => errors.push({ obj, msg: msg ?? '' }),
      }
      const outbox: Outbox = await createOutbox({
        store: `sqlite:${path}`,
        upstream: `smtp://127.0.0.1:${tls.port}`,
        concurrency: 2,
        maxAge: '1s',
        upstreamProbe: { initialDelay: 100, maxDelay: 200 },
        logger,
      })
      cleanups.push(() => outbox.close())
      const sent = await outbox.sendMany(
        Array.from({ length: 10 }, (_, i) => ({
          from: 's@example.com',
          to: `r${i}@example.com`,
          subject: 'tls',
          text: 'x',
        })),
      )
      const worker = outbox.worker()
      await worker.start()
      const started = Date.now()
      // Probing on (each probe a connection), and longer than the messages' max age.
      await waitUntil(
        () => tls.connections >= 8 && Date.now() - started > 2500,
        30_000,
        'probes of the misconfigured upstream',
      )
      expect(outbox.upstreamHealth()).toMatchObject({ down: true, misconfigured: true })

      const misconfigured = errors.filter((e) => /misconfigured/.test(e.msg))
      expect(misconfigured).toHaveLength(1)
      expect(misconfigured[0]!.msg).toMatch(/expired.*CERT_HAS_EXPIRED/)
      expect(misconfigured[0]!.msg).toMatch(/\?ignoreTLS=true/)
      expect(misconfigured[0]!.msg).toMatch(/tls\.rejectUnauthorized=false accepts any/)

      const counts = await outbox.admin.countByStatus()
      expect(counts.failed).toBe(0)
      expect(counts.sent).toBe(0)
      const details = await Promise.all(sent.map(({ id }) => outbox.admin.getMessage(id)))
      // Only the sends in progress when it was found made an attempt; none counts toward backoff.
      const attempts = details.flatMap((d) => d.attemptLog)
      expect(attempts.length).toBeGreaterThan(0)
      expect(attempts.length).toBeLessThanOrEqual(2)
      expect(new Set(attempts.map((a) => a.outcome))).toEqual(new Set(['misconfigured']))
      const tried = details.filter((d) => d.attempts > 0)
      expect(tried.every((d) => d.reason === 'upstream-misconfigured')).toBe(true)

      // `outbox stats` reads it from the store: it may run anywhere, with no worker in it.
      const cwd = path.replace(/\/outbox\.db$/, '')
      const env = { OUTBOX_STORE: `sqlite:${path}` }
      const asJson = await runCli(['stats', '--json'], { cwd, env })
      expect(asJson.code).toBe(0)
      const stats = JSON.parse(asJson.stdout) as {
        upstreamProblem: { kind: string; error: string } | null
      }
      expect(stats.upstreamProblem?.kind).toBe('misconfigured')
      expect(stats.upstreamProblem?.error).toMatch(/CERT_HAS_EXPIRED.*Renew the certificate/)
      const human = await runCli(['stats'], { cwd, env })
      expect(human.stdout).toMatch(/Upstream: MISCONFIGURED/)
      expect(human.stdout).toMatch(/CERT_HAS_EXPIRED/)
      await worker.stop()
    },
  )
})

describe('upstream URL options, as the README documents them', () => {
  it('without options, the expired certificate makes the upstream misconfigured', async () => {
    const tls = await server()
    const report = await upstream(`smtp://127.0.0.1:${tls.port}`).deliver(message())
    expect(report.misconfigured).toBe(true)
    expect(report.upstreamDown).toMatch(/CERT_HAS_EXPIRED/)
    expect(tls.secure).toEqual([])
  })

  it('?ignoreTLS=true sends without STARTTLS', async () => {
    const tls = await server()
    const report = await upstream(`smtp://127.0.0.1:${tls.port}?ignoreTLS=true`).deliver(message())
    expect(report.recipients[0]!.disposition).toBe('accepted')
    expect(tls.secure).toEqual([false])
  })

  it('?tls.rejectUnauthorized=false accepts the certificate and sends over TLS', async () => {
    const tls = await server()
    const u = upstream(`smtp://127.0.0.1:${tls.port}?tls.rejectUnauthorized=false`)
    expect((await u.deliver(message())).recipients[0]!.disposition).toBe('accepted')
    expect(tls.secure).toEqual([true])
  })

  it('?requireTLS=true refuses an upstream without STARTTLS, as a configuration problem', async () => {
    const plain = await server({ disabledCommands: ['STARTTLS'] })
    const report = await upstream(`smtp://127.0.0.1:${plain.port}?requireTLS=true`).deliver(
      message(),
    )
    expect(report.misconfigured).toBe(true)
    expect(report.upstreamDown).toMatch(/refuses STARTTLS, which \?requireTLS=true demands/)
    expect(plain.secure).toEqual([])
    // With STARTTLS offered (and this test certificate accepted), it goes over TLS.
    const tls = await server()
    const u = upstream(`smtp://127.0.0.1:${tls.port}?requireTLS=true&tls.rejectUnauthorized=false`)
    expect((await u.deliver(message())).recipients[0]!.disposition).toBe('accepted')
    expect(tls.secure).toEqual([true])
  })

  it('smtps:// to a server without implicit TLS says so', async () => {
    const plain = await server({ disabledCommands: ['STARTTLS'] })
    const report = await upstream(`smtps://127.0.0.1:${plain.port}`).deliver(message())
    expect(report.misconfigured).toBe(true)
    expect(report.upstreamDown).toMatch(
      /ERR_SSL_WRONG_VERSION_NUMBER.*smtps:\/\/ only for implicit/,
    )
  })

  it('?poolSize=N caps the SMTP connections, whatever the concurrency', async () => {
    const send6 = async (url: string) => {
      const u = upstream(url, 10)
      const reports = await Promise.all(Array.from({ length: 6 }, (_, i) => u.deliver(message(i))))
      expect(reports.every((r) => r.recipients[0]!.disposition === 'accepted')).toBe(true)
    }
    const capped = await server({ disabledCommands: ['STARTTLS'] }, 200)
    await send6(`smtp://127.0.0.1:${capped.port}?poolSize=2`)
    expect(capped.connections).toBe(2)
    // Without it the pool grows to the concurrency (10 here), one connection per send.
    const uncapped = await server({ disabledCommands: ['STARTTLS'] }, 200)
    await send6(`smtp://127.0.0.1:${uncapped.port}`)
    expect(uncapped.connections).toBe(6)

    expect(() => createUpstream('smtp://127.0.0.1:25?poolSize=0', { maxConnections: 1 })).toThrow(
      ConfigError,
    )
  })
})
