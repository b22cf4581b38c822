import { afterEach, describe, expect, it } from 'vitest'
import { createOutbox, type Outbox } from '../../src/index.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'
import { tempSqliteUrl, waitUntil } from '../helpers/temp.js'

let sinks: SmtpSink[] = []
let outbox: Outbox | null = null
afterEach(async () => {
  await outbox?.close()
  outbox = null
  await Promise.all(sinks.map((s) => s.close()))
  sinks = []
})

const mail = (to: string | string[], i: number) => ({
  from: 'shop@example.com',
  to,
  subject: `m${i}`,
  text: 'x',
})

/** Every recipient each sink accepted, to find one received twice. */
function received(...all: SmtpSink[]): string[] {
  return all.flatMap((s) => s.messages.flatMap((m) => m.to))
}

async function primaryAndBackup(): Promise<{ primary: SmtpSink; backup: SmtpSink }> {
  const primary = await createSmtpSink()
  const backup = await createSmtpSink()
  sinks.push(primary, backup)
  outbox = await createOutbox({
    store: tempSqliteUrl(),
    upstreams: { primary: primary.url, backup: { url: backup.url } },
    routes: [{ upstream: 'primary', fallback: ['backup'] }],
    upstreamProbe: { initialDelay: '200ms' },
  })
  return { primary, backup }
}

const upstreamDown = (name: string) =>
  outbox!.upstreamHealth().upstreams.find((u) => u.name === name)!.down

describe('failover to a backup upstream', () => {
  it('sends through the backup at once while the primary refuses connections, and back to the primary once it returns', async () => {
    const { primary, backup } = await primaryAndBackup()
    await outbox!.worker().start()
    await primary.stop()
    const sentAt = Date.now()
    await outbox!.sendMany(Array.from({ length: 30 }, (_, i) => mail(`a${i}@example.com`, i)))
    await backup.waitFor(30, 2000)
    console.log(
      `30 messages through the backup ${Date.now() - sentAt} ms after the primary went away`,
    )
    expect(primary.messages).toHaveLength(0)
    expect(upstreamDown('primary')).toBe(true)

    await primary.restart()
    await waitUntil(() => !upstreamDown('primary'), 10_000, 'the primary found back by a probe')
    await outbox!.sendMany(Array.from({ length: 20 }, (_, i) => mail(`b${i}@example.com`, i)))
    await primary.waitFor(20, 5000)
    expect(backup.messages).toHaveLength(30)
    const all = received(primary, backup)
    expect(new Set(all).size).toBe(all.length)
    expect(all).toHaveLength(50)
    await waitUntil(
      async () => (await outbox!.admin.countByStatus()).sent === 50,
      10_000,
      'all 50 recorded as sent',
    )
    // The attempt log says which upstream took each message.
    const list = await outbox!.admin.list({ to: 'a0@example.com' }, { limit: 1 })
    const detail = await outbox!.admin.getMessage(list.messages[0]!.id)
    expect(detail.attemptLog.at(-1)!.upstream).toMatch(/backup/)
  }, 30_000)

  it('never sends a recipient the primary accepted through the backup', async () => {
    const { primary, backup } = await primaryAndBackup()
    // 150 recipients: two transactions (100 + 50). The primary takes the first, then its
    // connection drops at the second's first RCPT: down, so the other 50 go to the backup.
    primary.script = {
      rcpt: (address) => (address === 'r100@example.com' ? 'drop' : 'accept'),
      connect: () => (primary.transactions >= 1 ? { code: 421, message: 'going away' } : 'accept'),
    }
    const recipients = Array.from({ length: 150 }, (_, i) => `r${i}@example.com`)
    const [sent] = await outbox!.sendMany([mail(recipients, 0)])
    await outbox!.drain()
    const fromPrimary = received(primary)
    const fromBackup = received(backup)
    expect(fromPrimary).toEqual(recipients.slice(0, 100))
    expect(fromBackup.sort()).toEqual(recipients.slice(100).sort())
    const detail = await outbox!.admin.getMessage(sent!.id)
    expect(detail.status).toBe('sent')
    expect(detail.attemptLog).toHaveLength(1)
    expect(detail.attemptLog[0]!.upstream).toBe('primary+backup')
  }, 30_000)
})
