// A webhook receiver in a process of its own (so its work is not counted as Outbox's): answers
// 200 to every POST and reports, on request over IPC, how many events it got and when the last came.
import { createServer } from 'node:http'

let events = 0
let lastAt = 0
const server = createServer((req, res) => {
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    try {
      events += JSON.parse(Buffer.concat(chunks).toString('utf8')).data.events.length
    } catch {
      // Counted as nothing.
    }
    lastAt = performance.timeOrigin + performance.now()
    res.writeHead(200).end()
  })
})
server.keepAliveTimeout = 5000
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }))
process.on('message', (m) => {
  if (m === 'status') {
    const cpu = process.cpuUsage()
    process.send({ events, lastAt, cpuMs: (cpu.user + cpu.system) / 1000 })
  } else if (m === 'reset') {
    events = 0
    lastAt = 0
    process.send({ reset: true })
  } else if (m === 'stop') server.close(() => process.exit(0))
})
