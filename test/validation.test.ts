import { afterEach, describe, expect, it } from 'vitest'
import {
  ConfigError,
  createOutbox,
  ErrorCodes,
  InvalidMessageError,
  type MailInput,
  type Outbox,
  type SendOptions,
} from '../src/index.js'
import { tempSqliteUrl } from './helpers/temp.js'

let outbox: Outbox | null = null
afterEach(async () => {
  await outbox?.close()
  outbox = null
})

async function open(options = {}): Promise<Outbox> {
  outbox = await createOutbox({ store: tempSqliteUrl(), ...options })
  return outbox
}

async function expectNothingStored(o: Outbox): Promise<void> {
  const counts = await o.admin.countByStatus()
  expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0)
}

const good = { from: 'shop@example.com', to: 'a@example.com', subject: 'Hi', text: 'x' }

describe('send() refuses bad input before storing anything', () => {
  const cases: [
    string,
    MailInput | Record<string, unknown>,
    SendOptions | Record<string, unknown> | undefined,
    string,
    string,
  ][] = [
    [
      'no recipient',
      { from: 'shop@example.com', subject: 'x' },
      undefined,
      'to',
      ErrorCodes.INVALID_MESSAGE,
    ],
    [
      'no sender',
      { to: 'a@example.com', subject: 'x' },
      undefined,
      'from',
      ErrorCodes.INVALID_MESSAGE,
    ],
    [
      'invalid recipient',
      { ...good, to: 'not-an-address' },
      undefined,
      'to',
      ErrorCodes.INVALID_MESSAGE,
    ],
    [
      'invalid one of several',
      { ...good, to: ['a@example.com', 'b@'] },
      undefined,
      'to[1]',
      ErrorCodes.INVALID_MESSAGE,
    ],
    ['invalid cc', { ...good, cc: 'a@example..com' }, undefined, 'cc', ErrorCodes.INVALID_MESSAGE],
    [
      'invalid sender',
      { ...good, from: 'shop@@example.com' },
      undefined,
      'from',
      ErrorCodes.INVALID_MESSAGE,
    ],
    [
      'CRLF in the subject',
      { ...good, subject: 'Hi\r\nBcc: victim@example.com' },
      undefined,
      'subject',
      ErrorCodes.INVALID_MESSAGE,
    ],
    [
      'LF in an address',
      { ...good, to: 'a@example.com\nBcc: victim@example.com' },
      undefined,
      'to',
      ErrorCodes.INVALID_MESSAGE,
    ],
    [
      'CRLF in an address object',
      { ...good, to: { name: 'A\r\nX: y', address: 'a@example.com' } },
      undefined,
      'to.name',
      ErrorCodes.INVALID_MESSAGE,
    ],
    [
      'CRLF in a header value',
      { ...good, headers: { 'X-Campaign': 'a\r\nBcc: v@example.com' } },
      undefined,
      'headers.X-Campaign',
      ErrorCodes.INVALID_MESSAGE,
    ],
    [
      'bad header name',
      { ...good, headers: { 'X Bad': '1' } },
      undefined,
      'headers.X Bad',
      ErrorCodes.INVALID_MESSAGE,
    ],
    [
      'unknown field',
      { ...good, attachements: [] },
      undefined,
      'attachements',
      ErrorCodes.INVALID_MESSAGE,
    ],
    ['unknown option', good, { priorty: 'high' }, 'options.priorty', ErrorCodes.INVALID_MESSAGE],
    ['bad priority', good, { priority: 'urgent' }, 'options.priority', ErrorCodes.INVALID_MESSAGE],
    ['bad sendAt', good, { sendAt: 'tomorrow-ish' }, 'options.sendAt', ErrorCodes.INVALID_MESSAGE],
    ['bad tag', good, { tags: ['has space'] }, 'options.tags.0', ErrorCodes.INVALID_MESSAGE],
    [
      'empty idempotency key',
      good,
      { idempotencyKey: '' },
      'options.idempotencyKey',
      ErrorCodes.INVALID_MESSAGE,
    ],
    [
      'missing attachment file',
      { ...good, attachments: [{ path: '/nonexistent/file.pdf' }] },
      undefined,
      'attachments',
      ErrorCodes.INVALID_MESSAGE,
    ],
    ...(
      [
        ['attachments not an array', { attachments: 'x' }, 'attachments'],
        ['an attachment that is a number', { attachments: [42] }, 'attachments[0]'],
        ['an attachment that is null', { attachments: [null] }, 'attachments[0]'],
        [
          'an attachment with nothing in it',
          { attachments: [{ filename: 'a' }] },
          'attachments[0]',
        ],
        [
          'attachment content of a wrong type',
          { attachments: [{ content: 42 }] },
          'attachments[0].content',
        ],
        [
          'attachment filename of a wrong type',
          { attachments: [{ filename: 42, content: 'x' }] },
          'attachments[0].filename',
        ],
        ['attachment path of a wrong type', { attachments: [{ path: 42 }] }, 'attachments[0].path'],
        [
          'a typo in an attachment field',
          { attachments: [{ fileName: 'a.txt', content: 'x' }] },
          'attachments[0].fileName',
        ],
        [
          'CRLF in an attachment content type',
          { attachments: [{ content: 'x', contentType: 'text/plain\r\nX: 1' }] },
          'attachments[0].contentType',
        ],
        [
          'CRLF in an attachment cid',
          { attachments: [{ content: 'x', cid: 'a\r\nX: 1' }] },
          'attachments[0].cid',
        ],
        [
          'a bad content disposition',
          { attachments: [{ content: 'x', contentDisposition: 'evil' }] },
          'attachments[0].contentDisposition',
        ],
        ['alternatives not an array', { alternatives: 'x' }, 'alternatives'],
        ['html of a wrong type', { html: 42 }, 'html'],
        ['text of a wrong type', { text: 5 }, 'text'],
        ['a header entry that is null', { headers: [null] }, 'headers[0]'],
      ] as const
    ).map(
      ([name, extra, field]) =>
        [
          name,
          { ...good, ...extra },
          undefined,
          field,
          ErrorCodes.INVALID_MESSAGE,
        ] as (typeof cases)[number],
    ),
  ]
  it.each(cases)('%s', async (_name, mail, options, field, code) => {
    const o = await open()
    const error = await o.send(mail as MailInput, options as SendOptions).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InvalidMessageError)
    expect((error as InvalidMessageError).field).toBe(field)
    expect((error as InvalidMessageError).code).toBe(code)
    expect((error as Error).message).toContain(field.split('.')[0]!.replace(/\[\d+\]$/, ''))
    await expectNothingStored(o)
  })

  it('refuses a message over the size limit', async () => {
    const o = await open({ maxMessageSize: 100_000 })
    const error = await o
      .send({ ...good, attachments: [{ filename: 'big.bin', content: Buffer.alloc(200_000) }] })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InvalidMessageError)
    expect(error).toMatchObject({ code: ErrorCodes.MESSAGE_TOO_LARGE, field: 'attachments' })
    expect((error as Error).message).toMatch(/over the 97.7 KB limit/)
    await expectNothingStored(o)
  })

  it('sendMany stores all or nothing, naming the bad item', async () => {
    const o = await open()
    const error = await o.sendMany([good, { ...good, to: 'broken' }, good]).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InvalidMessageError)
    expect((error as InvalidMessageError).field).toBe('[1].to')
    await expectNothingStored(o)
    const results = await o.sendMany([good, good, { mail: good, options: { priority: 'high' } }])
    expect(results).toHaveLength(3)
    expect((await o.admin.countByStatus()).queued).toBe(3)
  })
})

describe('createOutbox() refuses bad options, naming them', () => {
  it.each([
    [{ maxAge: 'a while' }, 'maxAge'],
    [{ retry: { initialDelay: '5x' } }, 'retry.initialDelay'],
    [{ retry: { factor: 0 } }, 'retry.factor'],
    [{ retry: { initialDelay: '10m', maxDelay: '1m' } }, 'retry.maxDelay'],
    [{ concurrency: 0 }, 'concurrency'],
    [{ upstream: 'http://example.com' }, 'upstream'],
    [{ upstream: 'not a url' }, 'upstream'],
    [{ store: 'mysql://x' }, 'store'],
    [{ stroe: 'sqlite:x.db' }, 'stroe'],
    [{ logger: console.log }, 'logger'],
  ])('%j', async (options, key) => {
    const error = await createOutbox({ store: tempSqliteUrl(), ...options } as never).catch(
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).key).toBe(key)
    expect((error as ConfigError).code).toBe(ErrorCodes.INVALID_CONFIG)
  })

  it('never shows the upstream password in an error', async () => {
    const error = await createOutbox({
      store: tempSqliteUrl(),
      upstream: 'ftp://user:hunter2@example.com',
    }).catch((e: unknown) => e)
    expect((error as Error).message).not.toContain('hunter2')
  })
})
