// The SMTP sink, in its own process: accepts every message on 127.0.0.1 and tells the parent
// (over IPC) how many arrived and when. Started by sink-client.mjs; exits with its parent.
import { SMTPServer } from 'smtp-server'

const now = () => performance.timeOrigin + performance.now()
const MESSAGE_ID = /^message-id:[ \t]*(<[^>\r\n]*>)/im

let count = 0
let connections = 0
let firstAt = null
let lastAt = null
/** Report every arrival (for latency) instead of counting only (for throughput). */
let reportEach = false
/** How long the sink takes to answer each message (a remote provider's round trip). */
let replyDelayMs = 0
/** Pending `wait` requests: { id, count, timer }. */
const waits = new Set()

function send(message) {
  if (process.connected) process.send(message)
}

function arrived(messageId) {
  const t = now()
  count++
  firstAt ??= t
  lastAt = t
  if (reportEach) send({ type: 'arrival', messageId, t })
  for (const wait of waits) {
    if (count >= wait.count) {
      clearTimeout(wait.timer)
      waits.delete(wait)
      send({ type: 'reached', id: wait.id, count, firstAt, lastAt })
    }
  }
}

const server = new SMTPServer({
  // No DNS: nothing leaves the machine.
  disableReverseLookup: true,
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  logger: false,
  size: 64 * 1024 * 1024,
  maxClients: 200,
  onConnect(_session, callback) {
    connections++
    callback()
  },
  onData(stream, _session, callback) {
    // Only the headers are kept (for the Message-ID); the body is read and dropped.
    let head = ''
    stream.on('data', (chunk) => {
      if (head.length < 8192) head += chunk.toString('latin1', 0, Math.min(chunk.length, 8192))
    })
    stream.on('end', () => {
      arrived(MESSAGE_ID.exec(head)?.[1] ?? null)
      if (replyDelayMs > 0) setTimeout(() => callback(null, 'Ok: accepted'), replyDelayMs)
      else callback(null, 'Ok: accepted')
    })
  },
})
server.on('error', (error) => send({ type: 'error', message: error.message }))

process.on('message', (message) => {
  switch (message.type) {
    case 'reset':
      count = 0
      firstAt = null
      lastAt = null
      reportEach = Boolean(message.reportEach)
      replyDelayMs = Number(message.replyDelayMs ?? 0)
      send({ type: 'reset', id: message.id })
      break
    case 'ping':
      send({ type: 'pong', id: message.id, t: now() })
      break
    case 'status': {
      const cpu = process.cpuUsage()
      send({
        type: 'status',
        id: message.id,
        count,
        connections,
        firstAt,
        lastAt,
        cpuMs: (cpu.user + cpu.system) / 1000,
      })
      break
    }
    case 'wait': {
      if (count >= message.count) {
        send({ type: 'reached', id: message.id, count, firstAt, lastAt })
        break
      }
      const wait = { id: message.id, count: message.count }
      wait.timer = setTimeout(() => {
        waits.delete(wait)
        send({ type: 'timeout', id: message.id, count })
      }, message.timeoutMs)
      waits.add(wait)
      break
    }
    default:
      break
  }
})
// Never outlive the bench.
process.on('disconnect', () => process.exit(0))

server.listen(0, '127.0.0.1', () => {
  send({ type: 'ready', port: server.server.address().port })
})
