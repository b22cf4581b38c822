// An Outbox worker in its own process, driven over IPC by worker-client.mjs:
// node worker-process.mjs '{"store":…,"upstream":…,"concurrency":10,"smtpListen":false}'
// With `smtpListen` it also runs the SMTP listener on 127.0.0.1 (a free port), on the same
// Outbox: what `outbox start` runs. Reports 'ready' (with the listener's address), answers
// 'status' with its counts and memory, and on 'stop' shuts down cleanly.
import { createOutbox } from '../dist/index.js'
import { startSmtpListener } from '../dist/ingress/smtp-listener.js'
import { silentLogger } from '../dist/logger.js'

const options = JSON.parse(process.argv[2])
const outbox = await createOutbox({
  store: options.store,
  upstream: options.upstream,
  concurrency: options.concurrency ?? 10,
  ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
})
const worker = outbox.worker()
let listener = null
let peakRss = process.memoryUsage.rss()
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss())
}, 50)

function status() {
  const memory = process.memoryUsage()
  const cpu = process.cpuUsage()
  peakRss = Math.max(peakRss, memory.rss)
  return {
    counts: { ...worker.counts },
    rss: memory.rss,
    heapUsed: memory.heapUsed,
    peakRss,
    cpuMs: (cpu.user + cpu.system) / 1000,
    smtp: listener?.addresses[0] ?? null,
  }
}

process.on('message', (message) => {
  if (message.type === 'status') process.send({ type: 'status', id: message.id, ...status() })
  if (message.type === 'stop') {
    clearInterval(sampler)
    const last = status()
    void Promise.resolve(listener?.close())
      .then(() => outbox.close())
      .then(() => {
        process.send({ type: 'stopped', id: message.id, ...last })
        process.disconnect()
      })
  }
})
// Never outlive the bench.
process.on('disconnect', () => process.exit(0))

await worker.start()
if (options.smtpListen) {
  // As `outbox start` configures it (src/cli/commands/daemon.ts), on a port of its own.
  listener = await startSmtpListener(outbox, {
    listen: '127.0.0.1:0',
    maxMessageSize: 25 * 1024 * 1024,
    logger: silentLogger,
  })
}
process.send({ type: 'ready', ...status() })
