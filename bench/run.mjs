// `npm run bench`: every benchmark of issues 7, 13 and 15 in one run, for SQLite and (each when
// reachable) PostgreSQL, MariaDB and Redis. Prints a table and writes the same figures to
// bench/results/latest.json.
//
//   node bench/run.mjs [--quick] [--no-postgres] [--no-mariadb] [--no-redis]
//                      [--backends sqlite,postgres,mariadb,redis]   (only these; SQLite always)
//                      [--only enqueue,delivery,latency,smarthost,recovery,outage,scale,multi,shaping,webhooks,templates]
//                      [--report FILE.json]   (print a results file again, as text and Markdown)
//
// Needs a fresh build (`npm run bench` builds first). All traffic stays on 127.0.0.1.
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, release, totalmem, type } from 'node:os'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { benchWebhooks } from './webhooks.mjs'
import { benchTemplates } from './templates.mjs'
import { benchDelivery, benchNoopStore } from './delivery.mjs'
import { benchEnqueue } from './enqueue.mjs'
import { benchLatency } from './latency.mjs'
import { benchMultiWorker } from './multi-worker.mjs'
import { benchOutage } from './outage.mjs'
import { readTableStats } from './pg-tables.mjs'
import { benchRecovery } from './recovery.mjs'
import { benchScale } from './scale.mjs'
import { benchShaping, composeShapingMessages } from './shaping.mjs'
import { benchSmarthost } from './smarthost.mjs'
import {
  BACKEND_KINDS,
  composeMany,
  createWorkspace,
  mariadbProblem,
  mariadbVersion,
  POSTGRES_URL,
  postgresProblem,
  progress,
  redisProblem,
  redisVersion,
} from './common.mjs'
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
  'shaping',
  'webhooks',
  'templates',
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
  // MariaDB and Redis: each other-process latency run stops after this long (20 messages at
  // least); MariaDB's cross-process wake-up is a poll (see bench/README.md).
  latencyOtherProcessBudgetMs: 30_000,
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
  // A level whose bulk insert would take longer than this (at the rate of the level before) is
  // not measured: a backend that inserts below 6,000/s stops at 100k (see bench/README.md).
  scaleInsertBudgetMs: 150_000,
  workerSeconds: 3,
  multiMessages: 10_000,
  workerCounts: [1, 2, 4],
  // Two upstreams and a domain limit (¼ at 250/s, ⅜ at 400/s, the rest unlimited): ~3 s at the limits.
  shapingMessages: 4000,
}
const QUICK = {
  ...FULL,
  enqueueCount: 200,
  enqueueLargeCount: 50,
  deliveryMessages: 2000,
  slowUpstreamMessages: 500,
  latencyMessages: 100,
  latencyOtherProcessBudgetMs: 10_000,
  smarthostMessages: 1000,
  recoveryMessages: 1000,
  recoveryKillAfter: 250,
  outageMessages: 500,
  outageMs: 3000,
  scaleLevels: [1000, 5000, 20_000],
  scaleInsertBudgetMs: 30_000,
  workerSeconds: 2,
  multiMessages: 2000,
  shapingMessages: 2000,
}
/** Hard bound on the whole run: past it, the bench stops, cleans up and fails. */
// SQLite and PostgreSQL took ~11 min; MariaDB adds ~10 (estimated from a quick run), Redis as much
// at most (its bounds are the same): ~31 min with all four, and a margin for a busy machine.
const DEADLINE_MS = 45 * 60_000

const NAMES = { sqlite: 'SQLite', postgres: 'PostgreSQL', mariadb: 'MariaDB', redis: 'Redis' }
const PROBES = { postgres: postgresProblem, mariadb: mariadbProblem, redis: redisProblem }

function parseArgs(argv) {
  const args = { quick: false, only: SECTIONS, report: null, backends: null, disabled: new Set() }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--quick') args.quick = true
    else if (/^--no-(postgres|mariadb|redis)$/.test(arg)) args.disabled.add(arg.slice(5))
    else if (arg === '--backends') args.backends = argv[++i].split(',')
    else if (arg.startsWith('--backends=')) args.backends = arg.slice(11).split(',')
    else if (arg === '--only') args.only = argv[++i].split(',')
    else if (arg.startsWith('--only=')) args.only = arg.slice(7).split(',')
    else if (arg === '--report') args.report = argv[++i]
    else throw new Error(`unknown argument ${arg}; see the top of bench/run.mjs`)
  }
  for (const s of args.only) {
    if (!SECTIONS.includes(s))
      throw new Error(`--only: unknown section ${s} (${SECTIONS.join(', ')})`)
  }
  for (const b of args.backends ?? []) {
    if (!BACKEND_KINDS.includes(b))
      throw new Error(`--backends: unknown backend ${b} (${BACKEND_KINDS.join(', ')})`)
  }
  return args
}

/**
 * The backends this run measures: SQLite always; each other one unless turned off (--no-…, or
 * left out of --backends), when its server answers and this build's store opens its URL.
 * The others are named in `skipped` with the reason.
 */
async function chooseBackends(args, skipped) {
  const backends = ['sqlite']
  for (const kind of BACKEND_KINDS.slice(1)) {
    let problem = null
    if (args.disabled.has(kind)) problem = `disabled with --no-${kind}`
    else if (args.backends && !args.backends.includes(kind)) problem = 'not in --backends'
    else problem = await PROBES[kind]()
    if (problem) {
      progress(`skipping the ${NAMES[kind]} parts: ${problem}`)
      skipped.push(`${NAMES[kind]}: ${problem}`)
    } else backends.push(kind)
  }
  return backends
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
  const backends = await chooseBackends(args, skipped)

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
      mariadb: backends.includes('mariadb') ? await mariadbVersion() : 'not used',
      redis: backends.includes('redis') ? await redisVersion() : 'not used',
      loadAverageAtStart: loadavg(),
    },
    backends,
    skipped,
  }

  const workspace = createWorkspace()
  let sink = null
  // The shaping section's second upstream: a sink process of its own.
  let sinkB = null
  const deadline = setTimeout(() => {
    progress(`the bench ran past ${DEADLINE_MS / 60_000} minutes: stopping`)
    void Promise.allSettled([sink?.stop(), sinkB?.stop(), workspace.cleanup()]).then(() =>
      process.exit(1),
    )
  }, DEADLINE_MS)
  deadline.unref()
  // Interrupted (Ctrl-C, kill): still drop this run's databases, schemas and keys.
  const onSignal = (signal) => {
    progress(`${signal}: stopping`)
    void Promise.allSettled([sink?.stop(), sinkB?.stop(), workspace.cleanup()]).then(() =>
      process.exit(130),
    )
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  let peakLoad = loadavg()[0]
  const loadSampler = setInterval(() => (peakLoad = Math.max(peakLoad, loadavg()[0])), 5000)
  loadSampler.unref()

  try {
    sink = await startSink()
    /** A fresh store of `kind` (a MariaDB database is created before its URL is given out). */
    const freshStore = async (kind, label) => {
      const url = workspace.storeUrl(kind, label)
      await workspace.prepare(url)
      return url
    }
    const urlFor = (kind, label) => () => freshStore(kind, label)
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

    if (args.only.includes('templates')) {
      results.templates = {}
      for (const kind of backends) {
        results.templates[kind] = await benchTemplates({
          kind,
          url: urlFor(kind, 'templates'),
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
          url: async () => (lastUrl = await freshStore(kind, 'delivery')),
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

    if (args.only.includes('webhooks')) {
      const all = (await composed()).slice(0, sizes.deliveryMessages)
      results.webhooks = {}
      for (const kind of backends) {
        results.webhooks[kind] = await benchWebhooks({
          kind,
          url: urlFor(kind, 'webhooks'),
          sink,
          messages: all,
          repeats: Math.max(sizes.repeats, 4),
          timeoutMs,
        })
      }
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
          ...(kind === 'mariadb' || kind === 'redis'
            ? { otherProcessBudgetMs: sizes.latencyOtherProcessBudgetMs }
            : {}),
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
          // SQLite and PostgreSQL always go to the last level, as before.
          ...(kind === 'mariadb' || kind === 'redis'
            ? { insertBudgetMs: sizes.scaleInsertBudgetMs }
            : {}),
        })
        // A million rows is gigabytes (of disk, or of Redis's memory): give them back now.
        if (kind !== 'postgres') await workspace.remove(scale.storeUrl)
        delete scale.storeUrl
        for (const { messages, projectedInsertMs } of scale.skippedLevels ?? [])
          skipped.push(
            `scale ${NAMES[kind]} ${messages.toLocaleString('en-US')}: the bulk insert would take ~${Math.round(projectedInsertMs / 1000)} s, more than the ${sizes.scaleInsertBudgetMs / 1000} s allowed`,
          )
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

    if (args.only.includes('shaping')) {
      progress(`composing ${sizes.shapingMessages} messages for the shaping section`)
      const shaping = await composeShapingMessages(sizes.shapingMessages)
      sinkB = await startSink()
      results.shaping = {}
      for (const kind of backends) {
        results.shaping[kind] = await benchShaping({
          kind,
          url: urlFor(kind, 'shaping'),
          sinks: { default: sink, b: sinkB },
          messages: shaping,
          repeats: sizes.repeats,
          timeoutMs,
        })
      }
    }
  } finally {
    clearTimeout(deadline)
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    clearInterval(loadSampler)
    await sink?.stop()
    await sinkB?.stop()
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
