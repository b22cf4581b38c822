// An Outbox worker in its own process for the shaping section (shaping.mjs), configured with
// named upstreams, routes and domain limits:
// node shaping-worker.mjs '{"store":…,"upstream":…,"upstreams":{…},"routes":[…],"domainLimits":{…}}'
// Opens its Outbox and reports 'ready'; starts the worker on 'start' (answering with the moment
// it did, on the shared wall clock), answers 'status' with its counts and CPU time, and on
// 'stop' shuts down cleanly. Exits with its parent.
import { createOutbox } from '../dist/index.js'

const now = () => performance.timeOrigin + performance.now()
const options = JSON.parse(process.argv[2])
const outbox = await createOutbox({
  store: options.store,
  upstream: options.upstream,
  concurrency: options.concurrency ?? 10,
  upstreams: options.upstreams,
  routes: options.routes,
  domainLimits: options.domainLimits,
})
const worker = outbox.worker()

function status() {
  const cpu = process.cpuUsage()
  return { counts: { ...worker.counts }, cpuMs: (cpu.user + cpu.system) / 1000 }
}

const reply = (message, body) => {
  if (process.connected) process.send({ id: message.id, ...body })
}

process.on('message', (message) => {
  if (message.type === 'start') {
    const t = now()
    worker.start().then(
      () => reply(message, { type: 'started', t, ...status() }),
      (error) => reply(message, { type: 'error', message: error.message }),
    )
  }
  if (message.type === 'status') reply(message, { type: 'status', ...status() })
  if (message.type === 'stop') {
    const last = status()
    void outbox.close().then(() => {
      reply(message, { type: 'stopped', ...last })
      process.disconnect()
    })
  }
})
// Never outlive the bench.
process.on('disconnect', () => process.exit(0))
process.send({ type: 'ready', ...status() })
