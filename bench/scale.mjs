// 4. Scale: one store grown to 10k, 100k, then 1M queued messages (bulk-inserted through the
// store's own enqueue). At each size: the time to claim a batch, of `outbox list`'s first page
// and of `stats` (the admin calls, and the CLI as a user runs it), and the resident memory of
// a worker process working that queue.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createOutbox } from '../dist/index.js'
import { openStore } from '../dist/store/open-store.js'
import { bulkInsert } from './delivery.mjs'
import { now, progress, repeat, sleep, summarize } from './common.mjs'
import { startWorkerProcess } from './worker-client.mjs'

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url))
/** A worker claims twice its concurrency (10) at a time. */
const CLAIM_BATCH = 20

/** Milliseconds `fn` takes. */
async function timed(fn) {
  const t = now()
  await fn()
  return now() - t
}

/** Runs the CLI (a fresh process, as an operator would), returns its wall time in ms. */
function cliMs(args, storeUrl) {
  return new Promise((resolve, reject) => {
    const t = now()
    execFile(
      process.execPath,
      [CLI, ...args, '--store', storeUrl],
      {
        timeout: 60_000,
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, OUTBOX_LOG_LEVEL: 'error' },
      },
      (error, _stdout, stderr) => {
        if (error) reject(new Error(`outbox ${args.join(' ')} failed: ${stderr || error.message}`))
        else resolve(now() - t)
      },
    )
  })
}

/**
 * `insertBudgetMs` (optional) bounds the bulk insert of one level: a level whose insert would
 * take longer at the rate the previous level's insert ran is not measured (nor any after it),
 * and is returned in `skippedLevels` with the projected time.
 */
export async function benchScale({
  kind,
  url,
  sink,
  composed,
  levels,
  repeats,
  workerSeconds,
  insertBudgetMs = Infinity,
}) {
  const storeUrl = await url()
  const store = await openStore(storeUrl)
  const outbox = await createOutbox({ store, upstream: 'capture' })
  const results = []
  const skippedLevels = []
  let inserted = 0
  try {
    for (const level of levels) {
      const lastRate = results.at(-1)?.insertRate
      const projectedMs = lastRate ? ((level - inserted) / lastRate) * 1000 : 0
      if (projectedMs > insertBudgetMs) {
        for (const rest of levels.slice(levels.indexOf(level)))
          skippedLevels.push({
            messages: rest,
            projectedInsertMs: ((rest - inserted) / lastRate) * 1000,
          })
        progress(
          `scale ${kind}: not growing to ${level} (the insert would take ~${Math.round(projectedMs / 1000)} s ` +
            `at ${Math.round(lastRate)}/s, more than the ${Math.round(insertBudgetMs / 1000)} s allowed)`,
        )
        break
      }
      const insertMs = await timed(() => bulkInsert(store, composed, level - inserted, 5000))
      const insertRate = ((level - inserted) / insertMs) * 1000
      inserted = level
      progress(`scale ${kind} ${level}: inserted at ${Math.round(insertRate)}/s`)

      // Claim a worker's batch, then give it back so the queue stays the same size.
      const claims = []
      for (let i = 0; i < Math.max(5, repeats); i++) {
        let claimed = []
        claims.push(
          await timed(async () => {
            claimed = await store.claim({ owner: 'bench', limit: CLAIM_BATCH, leaseMs: 60_000 })
          }),
        )
        if (claimed.length !== CLAIM_BATCH) throw new Error(`claimed ${claimed.length} messages`)
        await store.releaseLeases(
          'bench',
          claimed.map((m) => m.id),
        )
      }
      const list = await repeat(Math.max(5, repeats), () =>
        timed(() => outbox.admin.list({}, { limit: 50 })),
      )
      const listQueued = await repeat(Math.max(5, repeats), () =>
        timed(() => outbox.admin.list({ status: ['queued'] }, { limit: 50 })),
      )
      const stats = await repeat(repeats, () => timed(() => outbox.admin.stats()))
      const cliList = await repeat(repeats, () => cliMs(['list', '--limit', '50'], storeUrl))
      const cliStats = await repeat(repeats, () => cliMs(['stats'], storeUrl))

      // A worker process working this queue (paced, so that the queue stays about this size).
      const worker = await startWorkerProcess({
        store: storeUrl,
        upstream: sink.url,
        concurrency: 10,
        rateLimit: '1000/s',
      })
      let last
      try {
        const rss = []
        for (let s = 0; s < workerSeconds; s++) {
          await sleep(1000)
          rss.push((await worker.status()).rss)
        }
        last = await worker.stop()
        last.rssSamples = rss
      } catch (error) {
        worker.kill()
        throw error
      }
      progress(
        `scale ${kind} ${level}: claim ${summarize(claims).median.toFixed(2)} ms, list ${summarize(list).median.toFixed(2)} ms, ` +
          `stats ${summarize(stats).median.toFixed(1)} ms, worker RSS ${(last.peakRss / 2 ** 20).toFixed(0)} MB ` +
          `(sent ${last.counts.sent})`,
      )
      results.push({
        messages: level,
        insertRate,
        claimMs: summarize(claims),
        listFirstPageMs: summarize(list),
        listQueuedFirstPageMs: summarize(listQueued),
        statsMs: summarize(stats),
        cliListMs: summarize(cliList),
        cliStatsMs: summarize(cliStats),
        worker: {
          peakRssMB: last.peakRss / 2 ** 20,
          rssMB: summarize(last.rssSamples.map((b) => b / 2 ** 20)),
          heapUsedMB: last.heapUsed / 2 ** 20,
          sentWhileMeasured: last.counts.sent,
          seconds: workerSeconds,
        },
      })
    }
  } finally {
    await outbox.close()
    await store.close()
  }
  return { storeUrl, levels: results, ...(skippedLevels.length ? { skippedLevels } : {}) }
}
