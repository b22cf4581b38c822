import { expect } from 'vitest'
import type { SmtpSink } from './smtp-sink.js'

/**
 * A run delivered right: the sink holds every message submitted, each once (by Message-ID),
 * and each ends with exactly the bytes submitted (the hops on the way only prepend trace
 * headers). `sent` maps each Message-ID to those bytes.
 */
export function expectEachOnce(sink: SmtpSink, sent: ReadonlyMap<string, Buffer>): void {
  const seen = new Map<string, number>()
  for (const m of sink.messages) seen.set(m.messageId ?? '', (seen.get(m.messageId ?? '') ?? 0) + 1)
  const duplicates = [...seen.values()].reduce((n, count) => n + count - 1, 0)
  const missing = [...sent.keys()].filter((id) => !seen.has(id))
  const unexpected = [...seen.keys()].filter((id) => !sent.has(id))
  expect({ delivered: sink.messages.length, duplicates, missing, unexpected }).toEqual({
    delivered: sent.size,
    duplicates: 0,
    missing: [],
    unexpected: [],
  })
  const altered = sink.messages.filter((m) => {
    const bytes = sent.get(m.messageId ?? '')!
    return !m.raw.subarray(m.raw.length - bytes.length).equals(bytes)
  })
  expect(altered.map((m) => m.messageId)).toEqual([])
}

/** Messages to submit: mostly plain, every fifth a UTF-8 one with 8-bit data. */
export function testMessages(
  count: number,
  tag: string,
  to: (i: number) => string = (i) => `r${i}@example.com`,
): { from: string; to: string[]; raw: Buffer; messageId: string }[] {
  return Array.from({ length: count }, (_, i) => {
    const messageId = `<${tag}.${i}.${Date.now()}@example.com>`
    const eightBit = i % 5 === 0
    const headers = [
      'From: Sender <s@example.com>',
      `To: ${to(i)}`,
      `Subject: ${tag} ${i}`,
      `Message-ID: ${messageId}`,
      `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
      'MIME-Version: 1.0',
      `Content-Type: text/plain; charset=utf-8`,
      `Content-Transfer-Encoding: ${eightBit ? '8bit' : '7bit'}`,
    ]
    const body = eightBit
      ? `Grüße aus Köln, message ${i}. Ærlig talt, ça marche. 日本語\r\n.a line starting with a dot\r\n`
      : `message ${i}\r\n.a line starting with a dot\r\n`
    return {
      from: 's@example.com',
      to: [to(i)],
      raw: Buffer.from(`${headers.join('\r\n')}\r\n\r\n${body}`),
      messageId,
    }
  })
}
