// The SMTP sink, in its own process: accepts every message on 127.0.0.1 and tells the parent
// (over IPC) how many arrived (and how many distinct Message-IDs) and when. It can stop
// listening and listen again on the same port (an upstream outage). Started by
// sink-client.mjs; exits with its parent.
import { SMTPServer } from 'smtp-server'

const now = () => performance.timeOrigin + performance.now()
const MESSAGE_ID = /^message-id:[ \t]*(<[^>\r\n]*>)/im

let count = 0
/** Distinct Message-IDs since the last reset (a redelivered message counts once). */
const ids = new Set()
let connections = 0
let port = 0
let paused = false
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
  if (messageId !== null) ids.add(messageId)
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
      ids.clear()
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
        unique: ids.size,
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
    case 'pause':
      pause(message.id)
      break
    case 'resume':
      resume(message.id)
      break
    default:
      break
  }
})

/** Stops listening and drops every connection: clients now get "connection refused". */
function pause(id) {
  if (paused) return send({ type: 'paused', id, t: now() })
  paused = true
  for (const connection of server.connections) connection._socket.destroy()
  // The net server itself, not SMTPServer.close(), which would also end this SMTPServer for good.
  server.server.close(() => send({ type: 'paused', id, t: now() }))
}

/** Listens again on the same port; `t` is the moment it does. */
function resume(id) {
  if (!paused) return send({ type: 'resumed', id, t: now() })
  const failed = (error) => send({ type: 'error', id, message: error.message })
  server.server.once('error', failed)
  server.server.listen(port, '127.0.0.1', () => {
    server.server.off('error', failed)
    paused = false
    send({ type: 'resumed', id, t: now() })
  })
}
// Never outlive the bench.
process.on('disconnect', () => process.exit(0))

server.listen(0, '127.0.0.1', () => {
  port = server.server.address().port
  send({ type: 'ready', port })
})
