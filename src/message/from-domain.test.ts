import { describe, expect, it } from 'vitest'
import { fromHeaderDomain } from './from-domain.js'

const message = (headers: string) => Buffer.from(`${headers}\r\n\r\nbody\r\n`, 'utf8')

describe('fromHeaderDomain', () => {
  it.each([
    ['From: shop@Example.COM', 'example.com'],
    ['From: "Shop, Inc." <orders@news.example.com>', 'news.example.com'],
    ['From: Shop (the <shop@fake.example> one) <shop@example.com>', 'example.com'],
    ['From: =?utf-8?q?Zo=C3=AB?= <zoe@example.org>', 'example.org'],
    ['From: Zoë <zoe@exämple.com>', 'xn--exmple-cua.com'],
    ['From: "Long name"\r\n <folded@example.net>', 'example.net'],
    ['From: first@a.example, second@b.example\r\nSender: first@a.example', 'a.example'],
    ['Subject: x\r\nfrom:   late@example.com.', 'example.com'],
  ])('%j → %s', (headers, domain) => {
    expect(fromHeaderDomain(message(headers))).toBe(domain)
  })

  it('is null without a From header, or without an address in it', () => {
    expect(fromHeaderDomain(message('Subject: none'))).toBeNull()
    expect(fromHeaderDomain(message('From: undisclosed'))).toBeNull()
    expect(fromHeaderDomain(Buffer.from('no headers at all'))).toBeNull()
  })

  it('reads the header section only, not a From line in the body', () => {
    const raw = Buffer.from('Subject: x\r\n\r\nFrom: body@example.com\r\n')
    expect(fromHeaderDomain(raw)).toBeNull()
  })
})
