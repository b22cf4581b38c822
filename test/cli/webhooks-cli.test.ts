import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createOutbox } from '../../src/index.js'
import { verifyWebhook } from '../../src/webhooks/webhook-signature.js'
import { killStartedCli, runCli, startCli } from '../helpers/run-cli.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'
import { waitUntil } from '../helpers/temp.js'

const SECRET = 'a-webhook-secret-of-32-characters'

let cwd: string
let store: string
let sink: SmtpSink
beforeEach(async () => {
  cwd = mkdtempSync(join(tmpdir(), 'outbox-webhooks-cli-'))
  store = `sqlite:${join(cwd, 'queue.db')}`
  sink = await createSmtpSink({
    script: {
      rcpt: (a) => (a.startsWith('bounce') ? { code: 550, message: 'No such user' } : 'accept'),
    },
  })
  // The commands below work on an existing queue.
  await (await createOutbox({ store })).close()
})
afterEach(async () => {
  killStartedCli()
  await sink.close()
  rmSync(cwd, { recursive: true, force: true })
})

const cli = (args: string[], env: Record<string, string> = {}) =>
  runCli(args, {
    cwd,
    env: { OUTBOX_STORE: store, OUTBOX_UPSTREAM: sink.url, ...env },
    timeoutMs: 30_000,
  })

/** A tiny receiver on 127.0.0.1: keeps each request's headers and body, answers 204. */
async function startReceiver(): Promise<{
  url: string
  requests: { headers: Record<string, string | string[] | undefined>; body: string }[]
  close(): Promise<void>
}> {
  const requests: { headers: Record<string, string | string[] | undefined>; body: string }[] = []
  const server: Server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => (body += chunk))
    req.on('end', () => {
      requests.push({ headers: req.headers, body })
      res.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/hooks/outbox`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

interface Status {
  name: string
  url: string
  events: string[]
  state: string
  backlog: number
  delivered: number
  requests: number
  uncertain: number
  lastSuccessAt: string | null
  failed: { batches: number; events: number }
  worker: string | null
}

describe('webhooks in the configuration', () => {
  it('a bad endpoint stops `outbox start` (and the other commands) with exit code 2, one line per problem', async () => {
    const webhooks = [
      { url: 'not a url', events: ['failed'], secret: SECRET },
      { url: 'https://hooks.example.com/a', events: ['failed', 'bouncd'], secret: SECRET },
      { url: 'https://hooks.example.com/b', events: ['sent'], secret: 'short-secret-5678' },
    ]
    writeFileSync(join(cwd, 'outbox.config.json'), JSON.stringify({ webhooks }))
    const start = await cli(['start', '--http-listen', 'none', '--smtp-listen', '127.0.0.1:0'])
    expect(start.code).toBe(2)
    expect(start.stderr).toBe(
      [
        'outbox: Webhook options have 3 problems:',
        '  webhooks[0].url: not a URL: "not a url"; give one such as https://hooks.example.com/outbox',
        '  webhooks[1].events[1]: unknown event type "bouncd"; the types are queued, sent, deferred, failed, held, released, retried, deleted, expired, bounced, complained, suppressed',
        '  webhooks[2].secret: too short: 17 characters, at least 24 needed (openssl rand -base64 32)',
        '',
      ].join('\n'),
    )
    // Nothing started: no log line on stdout.
    expect(start.stdout).toBe('')

    // One problem, from the environment, in a one-shot command.
    const one = JSON.stringify([webhooks[2]])
    const send = await cli(['send'], { OUTBOX_WEBHOOKS: one })
    expect(send.code).toBe(2)
    expect(send.stderr).toBe(
      'outbox: Option webhooks[0].secret: too short: 17 characters, at least 24 needed (openssl rand -base64 32).\n',
    )
    expect(send.stderr).not.toContain('short-secret-5678')
  })

  it('secrets stay out of what the CLI prints: `outbox config`, and a value that is not JSON', async () => {
    const webhooks = JSON.stringify([
      {
        url: 'https://hooks.example.com/outbox?token=t0ken',
        events: ['failed'],
        secret: SECRET,
        headers: { authorization: 'Bearer b3arer' },
      },
    ])
    const shown = await cli(['config', '--json'], { OUTBOX_WEBHOOKS: webhooks })
    expect(shown.code).toBe(0)
    const config = JSON.parse(shown.stdout) as { config: { webhooks: unknown } }
    expect(config.config.webhooks).toEqual([
      {
        url: 'https://hooks.example.com/outbox?***',
        events: ['failed'],
        secret: '***',
        headers: { authorization: '***' },
      },
    ])
    const human = await cli(['config'], { OUTBOX_WEBHOOKS: webhooks })
    expect(human.stdout).toMatch(
      /^webhooks +\[\{"url":"https:\/\/hooks\.example\.com\/outbox\?\*\*\*"/m,
    )
    for (const out of [shown.stdout, human.stdout]) {
      expect(out).not.toContain(SECRET)
      expect(out).not.toContain('b3arer')
      expect(out).not.toContain('t0ken')
    }

    const broken = await cli(['config'], { OUTBOX_WEBHOOKS: `[{"secret":"${SECRET}"` })
    expect(broken.code).toBe(2)
    expect(broken.stderr).toMatch(
      /^ {2}OUTBOX_WEBHOOKS = "\*\*\*" from the environment: expected a list/m,
    )
    expect(broken.stderr).not.toContain(SECRET)
  })

  it('events.maxAge: a duration of at least a minute', async () => {
    const shown = await cli(['config', '--json'], { OUTBOX_EVENTS_MAX_AGE: '3d' })
    expect(
      (JSON.parse(shown.stdout) as { config: { eventsMaxAgeMs: number } }).config.eventsMaxAgeMs,
    ).toBe(3 * 86_400_000)
    const defaults = await cli(['config', '--json'])
    expect(
      (JSON.parse(defaults.stdout) as { config: { eventsMaxAgeMs: number } }).config.eventsMaxAgeMs,
    ).toBe(7 * 86_400_000)
    const short = await cli(['config'], { OUTBOX_EVENTS_MAX_AGE: '30s' })
    expect(short.code).toBe(2)
    expect(short.stderr).toContain(
      'OUTBOX_EVENTS_MAX_AGE = "30s" from the environment: expected a duration of at least 1m, such as 7d',
    )
  })
})

describe('outbox webhooks', () => {
  it('shows each endpoint; `outbox send` delivers the events to it, signed; retry asks again', async () => {
    const receiver = await startReceiver()
    try {
      const env = {
        OUTBOX_WEBHOOKS: JSON.stringify([
          { url: receiver.url, events: ['sent', 'failed'], secret: SECRET, name: 'crm' },
        ]),
      }
      const before = await cli(['webhooks', '--json'], env)
      expect(before.code).toBe(0)
      const [fresh] = JSON.parse(before.stdout) as Status[]
      expect(fresh).toMatchObject({
        name: 'crm',
        url: receiver.url,
        events: ['sent', 'failed'],
        state: 'new',
        delivered: 0,
      })

      const outbox = await createOutbox({ store })
      await outbox.send({ from: 'shop@example.com', to: 'a@example.com', subject: 'A', text: 'x' })
      await outbox.send({
        from: 'shop@example.com',
        to: 'bounce@example.com',
        subject: 'B',
        text: 'x',
      })
      await outbox.close()
      // A drain for cron delivers the events it caused before it exits.
      expect((await cli(['send'], env)).code).toBe(1)

      expect(receiver.requests.length).toBeGreaterThan(0)
      const received = receiver.requests.flatMap((r) => {
        expect(verifyWebhook(SECRET, r.headers, r.body)).toBe(true)
        const body = JSON.parse(r.body) as {
          type: string
          data: { events: { type: string; recipient: string }[] }
        }
        expect(body.type).toBe('outbox.events')
        return body.data.events.map((e) => [e.type, e.recipient])
      })
      expect(received).toEqual([
        ['sent', 'a@example.com'],
        ['failed', 'bounce@example.com'],
      ])

      const after = await cli(['webhooks', '--json'], env)
      const [status] = JSON.parse(after.stdout) as Status[]
      expect(status).toMatchObject({
        name: 'crm',
        state: 'ok',
        backlog: 0,
        delivered: 2,
        uncertain: 0,
      })
      expect(status!.lastSuccessAt).not.toBeNull()
      expect(status!.failed).toEqual({ batches: 0, events: 0 })

      const human = await cli(['webhooks'], env)
      expect(human.code).toBe(0)
      const [header, row] = human.stdout.trimEnd().split('\n')
      expect(header).toMatch(
        /^NAME +STATE +BACKLOG +DELIVERED +UNCERTAIN +LAST SUCCESS +FAILED +WORKER +LAST ERROR$/,
      )
      expect(row).toMatch(/^crm +ok +0 +2 +0 +\S+ ago +- +- +-$/)

      // A running worker delivers to it too, and `outbox webhooks` names that worker.
      const worker = await startCli(['worker'], {
        cwd,
        env: { OUTBOX_STORE: store, OUTBOX_UPSTREAM: sink.url, ...env },
        readyText: 'outbox worker:',
      })
      const later = await createOutbox({ store })
      await later.send({ from: 'shop@example.com', to: 'c@example.com', subject: 'C', text: 'x' })
      await later.close()
      await waitUntil(() => receiver.requests.some((r) => r.body.includes('c@example.com')), 20_000)
      const running = JSON.parse((await cli(['webhooks', '--json'], env)).stdout) as Status[]
      expect(running[0]).toMatchObject({ delivered: 3, backlog: 0 })
      expect(running[0]!.worker).toMatch(/\S/)
      const exited = new Promise((resolve) => worker.child.once('exit', resolve))
      worker.child.kill('SIGTERM')
      expect(await exited).toBe(0)

      const retry = await cli(['webhooks', 'retry'], env)
      expect(retry).toMatchObject({ code: 0 })
      expect(retry.stdout).toMatch(/^asked 1 endpoint to retry what it gave up on;/)
      expect((await cli(['webhooks', 'retry', 'crm', '--json'], env)).stdout).toBe('{"asked":1}\n')

      const unknown = await cli(['webhooks', 'retry', 'crm', 'erp'], env)
      expect(unknown.code).toBe(2)
      expect(unknown.stderr).toMatch(
        /^outbox: No webhook is named .*"erp".*; the configured ones are crm\.\n$/,
      )
    } finally {
      await receiver.close()
    }
  })

  it('says when no webhook is configured', async () => {
    const none = await cli(['webhooks'])
    expect(none.code).toBe(0)
    expect(none.stdout).toMatch(
      /^no webhooks configured \(set webhooks in the config file, or OUTBOX_WEBHOOKS\)\n$/,
    )
    expect((await cli(['webhooks', '--json'])).stdout).toBe('[]\n')
    expect((await cli(['webhooks', 'retry', 'crm'])).code).toBe(2)
  })
})
