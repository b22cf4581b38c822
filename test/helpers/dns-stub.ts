import { createSocket, type Socket } from 'node:dgram'
import { once } from 'node:events'

/**
 * A DNS server on 127.0.0.1 answering TXT questions from `records` (name → TXT value; any other
 * name: NXDOMAIN), so that tests that look up DNS stay on this machine. UDP only, one question
 * per query, as resolvers ask.
 */
export interface DnsStub {
  /** `127.0.0.1:PORT`, for `Resolver.setServers()` or `OUTBOX_DNS_SERVERS`. */
  server: string
  /** Questions asked, by name. */
  asked: string[]
  close(): Promise<void>
}

/** The question's name and where the question section ends. */
function readQuestion(query: Buffer): { name: string; end: number } | null {
  const labels: string[] = []
  let at = 12
  for (let count = 0; count < 128 && at < query.length; count++) {
    const length = query[at]!
    if (length === 0) return { name: labels.join('.').toLowerCase(), end: at + 5 }
    labels.push(query.subarray(at + 1, at + 1 + length).toString('latin1'))
    at += 1 + length
  }
  return null
}

/** A TXT answer's RDATA: the value in strings of at most 255 bytes, each with its length. */
function txtData(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8')
  const parts: Buffer[] = []
  for (let at = 0; at < bytes.length; at += 255) {
    const chunk = bytes.subarray(at, at + 255)
    parts.push(Buffer.from([chunk.length]), chunk)
  }
  return Buffer.concat(parts)
}

function answer(query: Buffer, records: Record<string, string>, asked: string[]): Buffer | null {
  if (query.length < 17) return null
  const question = readQuestion(query)
  if (!question) return null
  asked.push(question.name)
  const qtype = query.readUInt16BE(question.end - 4)
  const value = Object.entries(records).find(([name]) => name.toLowerCase() === question.name)?.[1]
  const found = value !== undefined && qtype === 16
  const header = Buffer.alloc(12)
  query.copy(header, 0, 0, 2) // the id
  // QR, opcode 0, RD copied, RA; rcode 0 (found or no TXT) or 3 (NXDOMAIN).
  header.writeUInt16BE(0x8180 | ((query[2]! & 0x01) << 8) | (value === undefined ? 3 : 0), 2)
  header.writeUInt16BE(1, 4)
  header.writeUInt16BE(found ? 1 : 0, 6)
  const questionBytes = query.subarray(12, question.end)
  if (!found) return Buffer.concat([header, questionBytes])
  const data = txtData(value)
  const record = Buffer.alloc(12)
  record.writeUInt16BE(0xc00c, 0) // the name: a pointer to the question's
  record.writeUInt16BE(16, 2) // TXT
  record.writeUInt16BE(1, 4) // IN
  record.writeUInt32BE(60, 6) // TTL
  record.writeUInt16BE(data.length, 10)
  return Buffer.concat([header, questionBytes, record, data])
}

/** `records` is read at each question: a test may change it between lookups. */
export async function startDnsStub(records: Record<string, string>): Promise<DnsStub> {
  const socket: Socket = createSocket('udp4')
  const asked: string[] = []
  socket.on('message', (query, from) => {
    const reply = answer(query, records, asked)
    if (reply) socket.send(reply, from.port, from.address)
  })
  socket.bind(0, '127.0.0.1')
  await once(socket, 'listening')
  return {
    server: `127.0.0.1:${socket.address().port}`,
    asked,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  }
}
