// 6. Outbox as a smarthost, end to end: a pooled Nodemailer client (an application) submits N
// messages over SMTP to an Outbox process (the SMTP listener and a worker on one Outbox, as
// `outbox start` runs them), which queues each one durably before answering 250 and delivers it
// to the sink. Against the baseline of the same client sending the same bytes straight to the
// sink. The client runs in this process, the Outbox in its own, the sink in its own.
import nodemailer from 'nodemailer'
import { alternatingPairs, now, progress, summarize, waitUntil, withTimeout } from './common.mjs'
import { startCpuMeter } from './cpu.mjs'
import { startWorkerProcess } from './worker-client.mjs'

/** SMTP connections of the submitting client. */
const CLIENT_CONNECTIONS = 5
/** The Outbox's worker concurrency (and its pool to the sink): `outbox start`'s default. */
const WORKER_CONCURRENCY = 10

/**
 * Hands every message at once to a pooled client for `host:port` and times from the first
 * send until the sink has them all; `submittedRate` counts until the client had every reply.
 * `outbox`: the Outbox process in between, if any (for its CPU time).
 */
async function submitAll({ port, sink, messages, timeoutMs, outbox = null }) {
  const transporter = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    pool: true,
    maxConnections: CLIENT_CONNECTIONS,
    maxMessages: Infinity,
    ignoreTLS: true,
    logger: false,
  })
  try {
    await sink.reset()
    const cpu = await startCpuMeter(sink)
    const outboxCpuAtStart = outbox ? (await outbox.status()).cpuMs : null
    const started = now()
    let submittedAt = 0
    const sends = Promise.all(
      messages.map((m) => transporter.sendMail({ envelope: m.envelope, raw: m.raw })),
    ).then(() => (submittedAt = now()))
    const arrived = sink.waitFor(messages.length, timeoutMs)
    // Whichever fails first fails the run; the other must not become an unhandled rejection.
    sends.catch(() => undefined)
    arrived.catch(() => undefined)
    // A refused send fails the run at once, not after the sink's timeout.
    await Promise.race([arrived, sends])
    await withTimeout(sends, timeoutMs, 'the client to have every reply')
    const { lastAt } = await arrived
    const used = await cpu.stop()
    if (outbox) used.outboxMs = (await outbox.status()).cpuMs - outboxCpuAtStart
    const { count, unique } = await sink.status()
    if (count !== messages.length || unique !== messages.length) {
      throw new Error(
        `the sink got ${count} messages (${unique} distinct Message-IDs), expected ${messages.length}`,
      )
    }
    return {
      seconds: (lastAt - started) / 1000,
      rate: messages.length / ((lastAt - started) / 1000),
      submittedRate: messages.length / ((submittedAt - started) / 1000),
      cpu: used,
    }
  } finally {
    transporter.close()
  }
}

/** One run through a fresh Outbox process on a fresh store. */
async function smarthostRun({ url, sink, messages, timeoutMs }) {
  const outbox = await startWorkerProcess({
    store: await url(),
    upstream: sink.url,
    concurrency: WORKER_CONCURRENCY,
    smtpListen: true,
  })
  try {
    const port = Number(outbox.ready.smtp.split(':').at(-1))
    const result = await submitAll({ port, sink, messages, timeoutMs, outbox })
    // Every message recorded sent, not only arrived: the run is over when the queue is.
    await waitUntil(
      async () => (await outbox.status()).counts.sent >= messages.length,
      timeoutMs,
      'the Outbox process to record every message sent',
      20,
    )
    await outbox.stop()
    return result
  } catch (error) {
    await outbox.kill()
    throw error
  }
}

/** Outbox and direct runs alternate (O D, D O, …); the ratio is taken within each pair. */
/** CPU microseconds per message, by process (medians over the runs). */
function cpuPerMessage(runs, count, server) {
  const per = (key) => {
    const values = runs.map((r) => r.cpu[key]).filter((v) => typeof v === 'number')
    return values.length ? (summarize(values).median * 1000) / count : null
  }
  const result = { client: per('clientMs'), outbox: per('outboxMs'), sink: per('sinkMs') }
  // A database server's processes serve others too: counted only when the run uses them.
  if (server) result[server] = per(`${server}Ms`)
  return result
}

export async function benchSmarthost({ kind, url, sink, messages, repeats, timeoutMs }) {
  const { runs, pairs } = await alternatingPairs(repeats, {
    run: (which) =>
      which === 'outbox'
        ? smarthostRun({ url, sink, messages, timeoutMs })
        : submitAll({ port: sink.port, sink, messages, timeoutMs }),
    report: (which, result, i) =>
      progress(
        `smarthost ${kind} run ${i + 1} ${which}: ${Math.round(result.rate)}/s at the sink` +
          (which === 'outbox' ? `, ${Math.round(result.submittedRate)}/s accepted` : ''),
      ),
  })
  const ratios = pairs.map((pair) => pair.outbox.rate / pair.direct.rate)
  return {
    messages: messages.length,
    clientConnections: CLIENT_CONNECTIONS,
    workerConcurrency: WORKER_CONCURRENCY,
    outboxRate: summarize(runs.outbox.map((r) => r.rate)),
    outboxAcceptedRate: summarize(runs.outbox.map((r) => r.submittedRate)),
    directRate: summarize(runs.direct.map((r) => r.rate)),
    ratio: summarize(ratios),
    cpuUsPerMessage: {
      outbox: cpuPerMessage(runs.outbox, messages.length, kind === 'sqlite' ? null : kind),
      direct: cpuPerMessage(runs.direct, messages.length, null),
    },
  }
}
