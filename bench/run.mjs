// `npm run bench`: every benchmark of issues 7 and 13 in one run, for SQLite and (when
// reachable) PostgreSQL. Prints a table and writes the same figures to bench/results/latest.json.
//
//   node bench/run.mjs [--quick] [--no-postgres]
//                      [--only enqueue,delivery,latency,smarthost,recovery,outage,scale,multi]
//                      [--report FILE.json]   (print a results file again, as text and Markdown)
//
// Needs a fresh build (`npm run bench` builds first). All traffic stays on 127.0.0.1.
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, release, totalmem, type } from 'node:os'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { benchDelivery, benchNoopStore } from './delivery.mjs'
import { benchEnqueue } from './enqueue.mjs'
import { benchLatency } from './latency.mjs'
import { benchMultiWorker } from './multi-worker.mjs'
import { benchOutage } from './outage.mjs'
import { readTableStats } from './pg-tables.mjs'
import { benchRecovery } from './recovery.mjs'
import { benchScale } from './scale.mjs'
import { benchSmarthost } from './smarthost.mjs'
import { composeMany, createWorkspace, POSTGRES_URL, postgresProblem, progress } from './common.mjs'
import { evaluateTargets, formatMarkdown, formatText } from './report.mjs'
import { startSink } from './sink-client.mjs'

const SECTIONS = [
  'enqueue',
  'delivery',
  'latency',
  'smarthost',
  'recovery',
  'outage',
  'scale',
  'multi',
]

const FULL = {
  repeats: 3,
  enqueueCount: 1000,
  enqueueLargeCount: 300,
  deliveryMessages: 20_000,
  // A distant upstream: the sink answers each message after this long.
  slowUpstreamMessages: 2000,
  slowUpstreamReplyMs: 10,
  latencyMessages: 1000,
  // Nodemailer (5 connections) → Outbox's SMTP listener → queue → worker → sink.
  smarthostMessages: 5000,
  // A worker process killed with SIGKILL after this many arrivals; the sink answers in 5 ms.
  recoveryMessages: 2000,
  recoveryKillAfter: 500,
  recoveryReplyDelayMs: 5,
  // A backlog queued while the upstream is down for this long.
  outageMessages: 2000,
  outageMs: 10_000,
  scaleLevels: [10_000, 100_000, 1_000_000],
  workerSeconds: 3,
  multiMessages: 10_000,
  workerCounts: [1, 2, 4],
}
const QUICK = {
  ...FULL,
  enqueueCount: 200,
  enqueueLargeCount: 50,
  deliveryMessages: 2000,
  slowUpstreamMessages: 500,
  latencyMessages: 100,
  smarthostMessages: 1000,
  recoveryMessages: 1000,
  recoveryKillAfter: 250,
  outageMessages: 500,
  outageMs: 3000,
  scaleLevels: [1000, 5000, 20_000],
  workerSeconds: 2,
  multiMessages: 2000,
}
/** Hard bound on the whole run: past it, the bench stops, cleans up and fails. */
const DEADLINE_MS = 20 * 60_000

function parseArgs(argv) {
  const args = { quick: false, only: SECTIONS, postgres: true, report: null }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--quick') args.quick = true
    else if (arg === '--no-postgres') args.postgres = false
    else if (arg === '--only') args.only = argv[++i].split(',')
    else if (arg.startsWith('--only=')) args.only = arg.slice(7).split(',')
    else if (arg === '--report') args.report = argv[++i]
    else throw new Error(`unknown argument ${arg}; see the top of bench/run.mjs`)
  }
  for (const s of args.only) {
    if (!SECTIONS.includes(s))
      throw new Error(`--only: unknown section ${s} (${SECTIONS.join(', ')})`)
  }
  return args
}

/** The commit measured, and the source files changed on top of it (if any). */
function sourceVersion() {
  const git = (...args) =>
    execFileSync('git', args, {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      encoding: 'utf8',
    })
  try {
    const changed = git('status', '--porcelain', '--', 'src')
      .split('\n')
      .filter(Boolean)
      .map((line) => line.slice(3))
    return { commit: git('rev-parse', '--short', 'HEAD').trim(), uncommittedSource: changed }
  } catch {
    return { commit: 'unknown', uncommittedSource: [] }
  }
}

async function postgresVersion() {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    return String((await client.query('SHOW server_version')).rows[0].server_version)
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** JSON laid out as the repository's Prettier would (so `npm run lint` passes), if available. */
async function formatJson(value) {
  const json = `${JSON.stringify(value, null, 2)}\n`
  try {
    const prettier = await import('prettier')
    return await prettier.format(json, { parser: 'json', printWidth: 100 })
  } catch {
    return json
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2))
  if (args.report) {
    const results = JSON.parse(readFileSync(args.report, 'utf8'))
    process.stdout.write(`${formatText(results)}\n\n${formatMarkdown(results)}\n`)
    return
  }
  const sizes = args.quick ? QUICK : FULL
  const started = Date.now()
  const skipped = []
  const backends = ['sqlite']
  const problem = args.postgres ? await postgresProblem() : 'disabled with --no-postgres'
  if (problem) {
    progress(`skipping the PostgreSQL parts: ${problem}`)
    skipped.push(`PostgreSQL: ${problem}`)
  } else backends.push('postgres')

  const results = {
    date: new Date().toISOString().slice(0, 10),
    startedAt: new Date(started).toISOString(),
    quick: args.quick,
    source: sourceVersion(),
    sizes,
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      os: `${type()} ${release()}`,
      postgres: backends.includes('postgres') ? await postgresVersion() : 'not used',
      loadAverageAtStart: loadavg(),
    },
    backends,
    skipped,
  }

  const workspace = createWorkspace()
  let sink = null
  const deadline = setTimeout(() => {
    progress(`the bench ran past ${DEADLINE_MS / 60_000} minutes: stopping`)
    void Promise.allSettled([sink?.stop(), workspace.cleanup()]).then(() => process.exit(1))
  }, DEADLINE_MS)
  deadline.unref()
  let peakLoad = loadavg()[0]
  const loadSampler = setInterval(() => (peakLoad = Math.max(peakLoad, loadavg()[0])), 5000)
  loadSampler.unref()

  try {
    sink = await startSink()
    const urlFor = (kind, label) => () => workspace.storeUrl(kind, label)
    const timeoutMs = args.quick ? 60_000 : 180_000

    if (args.only.includes('enqueue')) {
      results.enqueue = {}
      for (const kind of backends) {
        results.enqueue[kind] = await benchEnqueue({
          kind,
          url: urlFor(kind, 'enqueue'),
          sizes,
          repeats: sizes.repeats,
        })
      }
    }

    let messages = null
    const composed = async () => {
      if (!messages) {
        const count = Math.max(
          sizes.deliveryMessages,
          sizes.multiMessages,
          sizes.smarthostMessages,
          sizes.recoveryMessages,
          sizes.outageMessages + 20,
        )
        progress(`composing ${count} messages once, for every delivery run`)
        messages = await composeMany(count)
      }
      return messages
    }

    if (args.only.includes('delivery')) {
      const all = (await composed()).slice(0, sizes.deliveryMessages)
      results.delivery = {}
      for (const kind of backends) {
        let lastUrl = null
        results.delivery[kind] = await benchDelivery({
          kind,
          url: () => (lastUrl = workspace.storeUrl(kind, 'delivery')),
          sink,
          messages: all,
          repeats: sizes.repeats,
          timeoutMs,
        })
        // What PostgreSQL did for the last of those runs: updates, how many HOT, indexes.
        if (kind === 'postgres') results.delivery.postgres.tables = await readTableStats(lastUrl)
      }
      results.deliverySlowUpstream = {}
      for (const kind of backends) {
        results.deliverySlowUpstream[kind] = await benchDelivery({
          kind,
          url: urlFor(kind, 'slow'),
          sink,
          messages: all.slice(0, sizes.slowUpstreamMessages),
          repeats: sizes.repeats,
          timeoutMs,
          replyDelayMs: sizes.slowUpstreamReplyMs,
        })
      }
      results.delivery.noop = await benchNoopStore({
        sink,
        messages: all,
        repeats: sizes.repeats,
        timeoutMs,
      })
    }

    if (args.only.includes('latency')) {
      results.latency = {}
      for (const kind of backends) {
        results.latency[kind] = await benchLatency({
          kind,
          url: urlFor(kind, 'latency'),
          sink,
          count: sizes.latencyMessages,
          repeats: sizes.repeats,
        })
      }
    }

    if (args.only.includes('smarthost')) {
      results.smarthost = {}
      const all = (await composed()).slice(0, sizes.smarthostMessages)
      for (const kind of backends) {
        results.smarthost[kind] = await benchSmarthost({
          kind,
          url: urlFor(kind, 'smarthost'),
          sink,
          messages: all,
          repeats: sizes.repeats,
          timeoutMs,
        })
      }
    }

    if (args.only.includes('recovery')) {
      results.recovery = {
        sqlite: await benchRecovery({
          url: urlFor('sqlite', 'recovery'),
          sink,
          messages: (await composed()).slice(0, sizes.recoveryMessages),
          killAfter: sizes.recoveryKillAfter,
          replyDelayMs: sizes.recoveryReplyDelayMs,
          repeats: sizes.repeats,
          timeoutMs,
        }),
      }
    }

    if (args.only.includes('outage')) {
      results.outage = {}
      for (const kind of backends) {
        results.outage[kind] = await benchOutage({
          kind,
          url: urlFor(kind, 'outage'),
          sink,
          messages: await composed(),
          count: sizes.outageMessages,
          outageMs: sizes.outageMs,
          repeats: sizes.repeats,
          timeoutMs,
        })
      }
    }

    if (args.only.includes('scale')) {
      results.scale = {}
      const rows = (await composed()).slice(0, 1000)
      for (const kind of backends) {
        const scale = await benchScale({
          kind,
          url: urlFor(kind, 'scale'),
          sink,
          composed: rows,
          levels: sizes.scaleLevels,
          repeats: sizes.repeats,
          workerSeconds: sizes.workerSeconds,
        })
        // A million rows is gigabytes: give the disk back now.
        if (kind === 'sqlite') workspace.removeSqlite(scale.storeUrl)
        delete scale.storeUrl
        results.scale[kind] = scale
      }
    }

    if (args.only.includes('multi')) {
      if (backends.includes('postgres')) {
        results.multiWorker = await benchMultiWorker({
          kind: 'postgres',
          url: urlFor('postgres', 'multi'),
          sink,
          messages: (await composed()).slice(0, sizes.multiMessages),
          workerCounts: sizes.workerCounts,
          repeats: sizes.repeats,
          timeoutMs,
        })
      } else skipped.push('multi-worker: needs PostgreSQL')
    }
  } finally {
    clearTimeout(deadline)
    clearInterval(loadSampler)
    await sink?.stop()
    await workspace.cleanup()
  }

  results.totalSeconds = (Date.now() - started) / 1000
  results.machine.loadAverageAtEnd = loadavg()
  results.machine.peakLoadAverage1m = peakLoad
  results.targets = evaluateTargets(results)

  const dir = fileURLToPath(new URL('./results/', import.meta.url))
  mkdirSync(dir, { recursive: true })
  const file = `${dir}${args.quick || args.only.length < SECTIONS.length ? 'partial.json.tmp' : 'latest.json'}`
  writeFileSync(file, await formatJson(results))
  process.stdout.write(`${formatText(results)}\n\nWritten to ${file}\n`)
}

main()
  .catch((error) => {
    process.stderr.write(`bench failed: ${error.stack ?? error.message}\n`)
    process.exitCode = 1
  })
  .finally(() => {
    // Whatever a failed run left open (a pool, a socket) must not keep the bench alive.
    setTimeout(() => process.exit(), 2000).unref()
  })
