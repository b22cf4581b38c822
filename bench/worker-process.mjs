// An Outbox worker in its own process, driven over IPC by worker-client.mjs:
// node worker-process.mjs '{"store":…,"upstream":…,"concurrency":10}'
// Reports 'ready', answers 'status' with its counts and memory, and on 'stop' shuts down cleanly.
import { createOutbox } from '../dist/index.js'

const options = JSON.parse(process.argv[2])
const outbox = await createOutbox({
  store: options.store,
  upstream: options.upstream,
  concurrency: options.concurrency ?? 10,
  ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
})
const worker = outbox.worker()
let peakRss = process.memoryUsage.rss()
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss())
}, 50)

function status() {
  const memory = process.memoryUsage()
  peakRss = Math.max(peakRss, memory.rss)
  return { counts: { ...worker.counts }, rss: memory.rss, heapUsed: memory.heapUsed, peakRss }
}

process.on('message', (message) => {
  if (message.type === 'status') process.send({ type: 'status', id: message.id, ...status() })
  if (message.type === 'stop') {
    clearInterval(sampler)
    const last = status()
    void outbox.close().then(() => {
      process.send({ type: 'stopped', id: message.id, ...last })
      process.disconnect()
    })
  }
})
// Never outlive the bench.
process.on('disconnect', () => process.exit(0))

await worker.start()
process.send({ type: 'ready', ...status() })
