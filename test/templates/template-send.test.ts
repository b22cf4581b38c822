import nodemailer from 'nodemailer'
import PostalMime from 'postal-mime'
import { afterEach, describe, expect, it } from 'vitest'
import {
  createOutbox,
  InvalidMessageError,
  TemplateNotFoundError,
  TemplateRenderError,
  type Outbox,
} from '../../src/index.js'
import { createSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js'
import { tempSqliteUrl } from '../helpers/temp.js'

let outbox: Outbox | null = null
let sink: SmtpSink | null = null
afterEach(async () => {
  await outbox?.close()
  outbox = null
  await sink?.close()
  sink = null
})

const WELCOME_EN = {
  subject: 'Welcome, {{ name }}',
  html: '<p>Hello <b>{{ name }}</b>, your balance is {{ balance | format_number }}.</p>',
  text: null,
}
const WELCOME_DE = {
  subject: 'Willkommen, {{ name }}',
  html: '<p>Hallo <b>{{ name }}</b>, Ihr Guthaben: {{ balance | format_number }}.</p>',
  text: 'Hallo {{ name }}, Ihr Guthaben: {{ balance | format_number }}.',
}

async function parse(raw: Buffer) {
  return PostalMime.parse(raw)
}

describe('send() with a stored template', () => {
  it('renders once at enqueue, per language, and records the template and version', async () => {
    outbox = await createOutbox({ store: tempSqliteUrl() })
    await outbox.admin.templates.put('welcome', 'en', WELCOME_EN)
    await outbox.admin.templates.put('welcome', 'de', WELCOME_DE)
    const context = { name: 'Ann <script>', balance: 1234.5 }

    const en = await outbox.send({
      template: 'welcome',
      language: 'en',
      context,
      from: 'shop@example.com',
      to: 'ann@example.com',
    })
    const de = await outbox.send({
      template: 'welcome',
      language: 'de',
      context,
      from: 'shop@example.com',
      to: 'ann@example.com',
    })
    const enMail = await parse(await outbox.admin.getRaw(en.id))
    const deMail = await parse(await outbox.admin.getRaw(de.id))
    // The subject is not HTML: no escaping there; the HTML part escapes the variable.
    expect(enMail.subject).toBe('Welcome, Ann <script>')
    expect(enMail.html).toContain('Hello <b>Ann &lt;script&gt;</b>')
    expect(enMail.html).toContain('1,234.5')
    // No text part in the template: made from the HTML.
    expect(enMail.text).toContain('Ann <script>')
    expect(deMail.subject).toBe('Willkommen, Ann <script>')
    expect(deMail.html).toContain('1.234,5')
    expect(deMail.text?.trim()).toBe('Hallo Ann <script>, Ihr Guthaben: 1.234,5.')

    expect((await outbox.admin.getMessage(en.id)).template).toEqual({
      name: 'welcome',
      language: 'en',
      version: 1,
    })
    expect((await outbox.admin.getMessage(de.id)).template).toEqual({
      name: 'welcome',
      language: 'de',
      version: 1,
    })
  })

  it('keeps the bytes and the version a message was rendered with after an edit; retries never render again', async () => {
    sink = await createSmtpSink({
      script: {
        // The first attempt is deferred, so the message is sent by a retry after the edit.
        data: (() => {
          let n = 0
          return () => (++n === 1 ? { code: 451, message: '4.3.0 try later' } : 'accept')
        })(),
      },
    })
    outbox = await createOutbox({
      store: tempSqliteUrl(),
      upstream: sink.url,
      retry: { initialDelay: '1s', maxDelay: '1s' },
    })
    await outbox.admin.templates.put('receipt', 'en', {
      subject: 'Receipt {{ n }}',
      html: null,
      text: 'Version one: {{ n }}',
    })
    const sent = await outbox.send({
      template: 'receipt',
      language: 'en',
      context: { n: 7 },
      from: 'shop@example.com',
      to: 'a@example.com',
    })
    const stored = await outbox.admin.getRaw(sent.id)
    await outbox.drain()
    expect(sink.messages).toHaveLength(0)

    const edited = await outbox.admin.templates.put('receipt', 'en', {
      subject: 'Receipt {{ n }}',
      html: null,
      text: 'Version two: {{ n }}',
    })
    expect(edited.template.version).toBe(2)
    await outbox.admin.retry({ ids: [sent.id] })
    await outbox.drain()
    expect(sink.messages).toHaveLength(1)
    expect(sink.messages[0]!.raw.equals(stored)).toBe(true)
    expect(sink.messages[0]!.raw.toString()).toContain('Version one: 7')
    expect((await outbox.admin.getMessage(sent.id)).template?.version).toBe(1)

    // A new message gets the new version.
    const later = await outbox.send({
      template: 'receipt',
      language: 'en',
      context: { n: 8 },
      from: 'shop@example.com',
      to: 'a@example.com',
    })
    expect((await outbox.admin.getMessage(later.id)).template?.version).toBe(2)
    expect((await outbox.admin.getRaw(later.id)).toString()).toContain('Version two: 8')
  })

  it('falls back to the base language, and to the default language only when configured', async () => {
    outbox = await createOutbox({ store: tempSqliteUrl() })
    await outbox.admin.templates.put('hi', 'de', { subject: 'Hallo', html: null, text: 'Hallo' })
    await outbox.admin.templates.put('hi', 'en', { subject: 'Hi', html: null, text: 'Hi' })
    const base = await outbox.send({
      template: 'hi',
      language: 'de-AT',
      from: 'a@example.com',
      to: 'b@example.com',
    })
    expect((await outbox.admin.getMessage(base.id)).template?.language).toBe('de')

    const unknown = outbox.send({
      template: 'hi',
      language: 'fr',
      from: 'a@example.com',
      to: 'b@example.com',
    })
    await expect(unknown).rejects.toBeInstanceOf(TemplateNotFoundError)
    await expect(unknown).rejects.toMatchObject({
      field: 'language',
      code: 'OUTBOX_TEMPLATE_NOT_FOUND',
    })
    await expect(unknown).rejects.toThrow(/it is in de, en/)
    // Several languages and none asked, no default: which one is ambiguous.
    await expect(
      outbox.send({ template: 'hi', from: 'a@example.com', to: 'b@example.com' }),
    ).rejects.toMatchObject({ field: 'language' })
    await outbox.close()

    outbox = await createOutbox({ store: tempSqliteUrl(), templates: { defaultLanguage: 'en' } })
    await outbox.admin.templates.put('hi', 'en', { subject: 'Hi', html: null, text: 'Hi' })
    const fallback = await outbox.send({
      template: 'hi',
      language: 'fr',
      from: 'a@example.com',
      to: 'b@example.com',
    })
    expect((await outbox.admin.getMessage(fallback.id)).template?.language).toBe('en')
    const none = await outbox.send({ template: 'hi', from: 'a@example.com', to: 'b@example.com' })
    expect((await outbox.admin.getMessage(none.id)).template?.language).toBe('en')
  })

  it('refuses bad input with a typed error naming the field, and stores nothing', async () => {
    outbox = await createOutbox({ store: tempSqliteUrl() })
    await outbox.admin.templates.put('order', 'en', {
      subject: 'Order {{ order.number }}',
      html: '<p>{{ user.name }}</p>',
      text: null,
    })
    const base = { template: 'order', language: 'en', from: 'a@example.com', to: 'b@example.com' }
    await expect(
      outbox.send({ ...base, context: { order: { number: 1 }, user: {} } }),
    ).rejects.toMatchObject({ field: 'context.user.name', code: 'OUTBOX_TEMPLATE_RENDER' })
    await expect(
      outbox.send({ ...base, context: { order: { number: 1 }, user: {} } }),
    ).rejects.toBeInstanceOf(TemplateRenderError)
    await expect(
      outbox.send({ ...base, context: 'not an object' as unknown as Record<string, unknown> }),
    ).rejects.toMatchObject({ field: 'context' })
    await expect(outbox.send({ ...base, template: 'nope' })).rejects.toMatchObject({
      field: 'template',
      code: 'OUTBOX_TEMPLATE_NOT_FOUND',
    })
    await expect(outbox.send({ ...base, subject: 'mine', context: {} })).rejects.toMatchObject({
      field: 'subject',
    })
    await expect(
      outbox.send({
        ...base,
        to: 'not an address',
        context: { order: { number: 1 }, user: { name: 'x' } },
      }),
    ).rejects.toBeInstanceOf(InvalidMessageError)
    // A template that does not parse is never stored.
    await expect(
      outbox.admin.templates.put('broken', 'en', {
        subject: 'ok',
        html: '<p>\n\n{% if x %}never closed</p>',
        text: null,
      }),
    ).rejects.toMatchObject({ code: 'OUTBOX_TEMPLATE_SYNTAX', field: 'html', line: 3 })
    expect(await outbox.admin.templates.list()).toHaveLength(1)
    expect((await outbox.admin.countByStatus()).queued).toBe(0)
  })

  it('works through sendMany, the Nodemailer transport and the default sender', async () => {
    outbox = await createOutbox({
      store: tempSqliteUrl(),
      templates: { from: 'Shop <shop@example.com>' },
    })
    await outbox.admin.templates.put('note', 'en', {
      subject: 'Note for {{ name }}',
      html: null,
      text: 'Dear {{ name }}',
    })
    const many = await outbox.sendMany([
      { template: 'note', context: { name: 'A' }, to: 'a@example.com' },
      {
        mail: { template: 'note', context: { name: 'B' }, to: 'b@example.com' },
        options: { tags: ['x'] },
      },
      { from: 'plain@example.com', to: 'c@example.com', subject: 'plain', text: 'plain' },
    ])
    expect(many).toHaveLength(3)
    expect((await outbox.admin.getMessage(many[0]!.id)).template?.name).toBe('note')
    expect((await outbox.admin.getMessage(many[2]!.id)).template).toBeNull()
    const first = await parse(await outbox.admin.getRaw(many[0]!.id))
    expect(first.from?.address).toBe('shop@example.com')
    expect(first.subject).toBe('Note for A')

    const transporter = nodemailer.createTransport(outbox.transport())
    const info = (await transporter.sendMail({
      to: 'd@example.com',
      template: 'note',
      language: 'en',
      context: { name: 'D' },
      attachments: [{ filename: 'a.txt', content: 'attached' }],
    } as never)) as { response: string }
    const id = info.response.split(' ').at(-1)!
    const detail = await outbox.admin.getMessage(id)
    expect(detail.template).toEqual({ name: 'note', language: 'en', version: 1 })
    const parsed = await parse(await outbox.admin.getRaw(id))
    expect(parsed.subject).toBe('Note for D')
    expect(parsed.text?.trim()).toBe('Dear D')
    expect(parsed.attachments.map((a) => a.filename)).toEqual(['a.txt'])
  })
})
