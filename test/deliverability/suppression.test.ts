import { afterEach, describe, expect, it } from 'vitest'
import { createOutbox, type Outbox } from '../../src/index.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'
import { tempSqliteUrl, waitUntil } from '../helpers/temp.js'

// The suppression list end to end: a worker delivering to a real SMTP sink that refuses some
// recipients, and the sends after it.

let outbox: Outbox | undefined
let sink: SmtpSink | undefined
afterEach(async () => {
  await outbox?.close()
  await sink?.close()
  outbox = sink = undefined
})

const mail = (to: string | string[]) => ({
  from: 'shop@example.com',
  to,
  subject: 'Your receipt',
  text: 'Thanks',
})

async function setup(refusals: Record<string, { code: number; message: string }>) {
  sink = await createSmtpSink({
    script: { rcpt: (address) => refusals[address] ?? 'accept' },
  })
  outbox = await createOutbox({ store: tempSqliteUrl(), upstream: sink.url })
  return outbox
}

async function deliverAll(o: Outbox) {
  await o.drain()
}

describe('suppression list', () => {
  it('a 550 5.1.1 suppresses the address; the next send to it fails at once without contacting the upstream', async () => {
    const o = await setup({
      'gone@example.net': { code: 550, message: '5.1.1 <gone@example.net>: User unknown' },
    })
    const first = await o.send(mail(['gone@example.net', 'ok@example.net']))
    expect(first.suppressed).toEqual([])
    await deliverAll(o)
    await waitUntil(async () => (await o.admin.suppressions.list({})).total === 1, 10_000)
    const [entry] = (await o.admin.suppressions.list({})).entries
    expect(entry).toMatchObject({
      address: 'gone@example.net',
      reason: 'rejected',
      messageId: first.id,
    })
    expect(entry!.reply).toMatch(/5\.1\.1/)

    const transactions = sink!.transactions
    const rcptsBefore = sink!.messages.length
    // Other recipients of the same message still go; the suppressed one fails at once.
    const second = await o.send(mail(['Gone@Example.net', 'ok@example.net']))
    // (Nodemailer lower-cases the domain when it composes.)
    expect(second.suppressed).toEqual(['Gone@example.net'])
    expect(second.status).toBe('queued')
    const detail = await o.admin.getMessage(second.id)
    expect(detail.recipientStatus.find((r) => r.address === 'Gone@example.net')).toMatchObject({
      status: 'failed',
    })
    expect(detail.recipientStatus[0]!.reply).toMatch(/suppressed/)
    await deliverAll(o)
    expect(sink!.messages.length).toBe(rcptsBefore + 1)
    expect(sink!.messages.at(-1)!.to).toEqual(['ok@example.net'])

    // Only suppressed recipients: stored failed, never sent, nothing asked of the upstream.
    const third = await o.send(mail('gone@example.net'))
    expect(third).toMatchObject({ status: 'failed', suppressed: ['gone@example.net'] })
    await deliverAll(o)
    expect(sink!.transactions).toBe(transactions + 1)
    expect((await o.admin.getMessage(third.id)).reason).toBe('suppressed')
  })

  it('a policy refusal (5.7.1) does not suppress the address', async () => {
    const o = await setup({
      'picky@example.net': { code: 550, message: '5.7.1 Message rejected as spam' },
    })
    const sent = await o.send(mail('picky@example.net'))
    await deliverAll(o)
    expect((await o.admin.getMessage(sent.id)).status).toBe('failed')
    expect((await o.admin.suppressions.list({})).total).toBe(0)
    const again = await o.send(mail('picky@example.net'))
    expect(again.suppressed).toEqual([])
  })

  it('ignoreSuppression sends to a suppressed address, by the caller’s choice', async () => {
    const o = await setup({})
    await o.admin.suppressions.add(['reset@example.net'])
    const result = await o.send(mail('reset@example.net'), { ignoreSuppression: true })
    expect(result.suppressed).toEqual([])
    await deliverAll(o)
    expect(sink!.messages.map((m) => m.to)).toEqual([['reset@example.net']])
    // Without it, the same send is failed at once.
    expect((await o.send(mail('reset@example.net'))).status).toBe('failed')
  })

  it('a `now` send skips suppressed recipients and delivers the others inside send()', async () => {
    const o = await setup({})
    await o.admin.suppressions.add(['no@example.net'])
    const result = await o.send(mail(['no@example.net', 'yes@example.net']), { priority: 'now' })
    // Failed, as any message with a recipient failed for good; the other one was delivered.
    expect(result).toMatchObject({ status: 'failed', suppressed: ['no@example.net'] })
    expect(sink!.messages.map((m) => m.to)).toEqual([['yes@example.net']])
  })
})
