// The results as a readable table (terminal or Markdown) and the targets of issues 7 and 13, met
// or not.

const BACKENDS = [
  ['sqlite', 'SQLite'],
  ['postgres', 'PostgreSQL'],
  ['mariadb', 'MariaDB'],
  ['redis', 'Redis'],
]
/** The backends issue 13's ratio and outage targets are set for; the others get issue 7's. */
const RATIO_TARGET_BACKENDS = BACKENDS.slice(0, 2)
/** A database server's CPU in a per-process breakdown: [key in cpuUsPerMessage, its name]. */
const SERVER_CPU = [
  ['postgres', 'PostgreSQL'],
  ['mariadb', 'MariaDB'],
  ['redis', 'Redis'],
]
const serverCpu = (c) => SERVER_CPU.map(([k]) => c[k]).find((v) => v !== undefined)
/** A run's CPU per message as "total (client + sink [+ server])", or '-' when not measured. */
function cpuBreakdown(v, which) {
  const c = v.cpuUsPerMessage?.[which]
  if (!c) return '-'
  const server = serverCpu(c)
  const parts = [c.client, c.sink, ...(server !== undefined ? [server] : [])]
  return `${number(c.total, 0)} (${parts.map((p) => number(p, 0)).join(' + ')})`
}
/** "PostgreSQL" (the old label), or the names of every server that appears in these columns. */
function serverLabel(kinds) {
  const names = SERVER_CPU.filter(([k]) => kinds.some(([kind]) => kind === k)).map(([, n]) => n)
  return names.length ? names.join(' / ') : 'PostgreSQL'
}

function number(value, digits) {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-'
  if (digits === undefined) digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2
  return value.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  })
}

/** `median [min–max]` of a summary from common.mjs `summarize`. */
export function spread(summary, digits) {
  if (!summary || summary.median === null) return '-'
  return `${number(summary.median, digits)} [${number(summary.min, digits)}–${number(summary.max, digits)}]`
}

/** The targets of the issues, evaluated on the results (medians). */
export function evaluateTargets(results) {
  const targets = []
  const add = (target, value, met, note) =>
    targets.push({ target, value, met, ...(note ? { note } : {}) })
  const d = results.delivery ?? {}
  // Issue 13's delivery targets (issue 7 asked 0.8 and 0.7).
  for (const [kind, name, least] of [
    ['sqlite', 'SQLite', 0.6],
    ['postgres', 'PostgreSQL', 0.5],
  ]) {
    const ratio = d[kind]?.ratio.median
    if (ratio !== undefined)
      add(`delivery ≥ ${least} × direct Nodemailer (${name})`, ratio, ratio >= least)
  }
  if (d.noop)
    add(
      'worker with a no-op store ≥ 0.9 × direct Nodemailer',
      d.noop.ratio.median,
      d.noop.ratio.median >= 0.9,
    )
  for (const [kind, name] of RATIO_TARGET_BACKENDS) {
    const ratio = results.smarthost?.[kind]?.ratio.median
    if (ratio !== undefined && ratio !== null)
      add(
        `smarthost end to end ≥ 0.6 × the same client straight to the sink (${name})`,
        ratio,
        ratio >= 0.6,
      )
  }
  for (const [kind, name] of BACKENDS) {
    const l = results.latency?.[kind]?.inProcess
    if (l) add(`idle end-to-end p50 < 20 ms (${name})`, l.p50Ms.median, l.p50Ms.median < 20)
  }
  for (const [kind, name] of BACKENDS) {
    const levels = results.scale?.[kind]?.levels
    if (!levels?.length) continue
    const first = levels[0]
    const last = levels.at(-1)
    add(
      `worker RSS < 200 MB at ${number(last.messages, 0)} queued (${name})`,
      last.worker.peakRssMB,
      last.worker.peakRssMB < 200,
    )
    // "Nearly flat": at most 3× (and at most 5 ms more) from the smallest to the largest queue.
    const flat = (a, b) => b <= Math.max(3 * a, a + 5)
    add(
      `claim time nearly flat ${number(first.messages, 0)} → ${number(last.messages, 0)} (${name})`,
      last.claimMs.median / first.claimMs.median,
      flat(first.claimMs.median, last.claimMs.median),
      'value: growth factor; met when ≤ 3× or ≤ +5 ms',
    )
    // Issue 7 set this one for SQLite and PostgreSQL; MariaDB and Redis get the four others.
    if (RATIO_TARGET_BACKENDS.some(([k]) => k === kind))
      add(
        `list first page nearly flat ${number(first.messages, 0)} → ${number(last.messages, 0)} (${name})`,
        last.listFirstPageMs.median / first.listFirstPageMs.median,
        flat(first.listFirstPageMs.median, last.listFirstPageMs.median),
        'value: growth factor; met when ≤ 3× or ≤ +5 ms',
      )
    add(
      `stats() < 5 ms at ${number(last.messages, 0)} queued (${name})`,
      last.statsMs.median,
      last.statsMs.median < 5,
      'admin call, ms',
    )
  }
  // Issue 17: delivering every event to a webhook costs delivery at most 10 %.
  for (const [kind, name] of BACKENDS) {
    const ratio = results.webhooks?.[kind]?.ratio.median
    if (ratio !== undefined)
      add(`delivery with a webhook ≥ 0.9 × without (${name})`, ratio, ratio >= 0.9)
  }
  const e = results.enqueue?.sqlite?.small
  if (e)
    add('send() p99 < 2 ms, small messages (SQLite)', e.send.p99Ms.median, e.send.p99Ms.median < 2)
  const r = results.recovery?.sqlite
  if (r)
    add(
      'after kill -9 and an immediate restart, every message delivered < 2 s (SQLite)',
      r.doneMs.median / 1000,
      r.doneMs.median < 2000,
      "s from the restart, the dead worker's leased messages included",
    )
  for (const [kind, name] of RATIO_TARGET_BACKENDS) {
    const o = results.outage?.[kind]
    if (o)
      add(
        `${number(o.messages, 0)} backlog after a ${o.outageMs / 1000} s outage drained ≤ 5 s (${name})`,
        o.drainMs.median / 1000,
        o.drainMs.median <= 5000,
        's from the upstream listening again until all recorded sent',
      )
  }
  return targets
}

/** Rows of one table: [label, ...cells]. */
function tables(results) {
  const out = []
  const kinds = BACKENDS.filter(([k]) => results.backends.includes(k))
  const head = ['', ...kinds.map(([, name]) => name)]

  if (results.enqueue) {
    const rows = []
    for (const [variant, title] of [
      ['small', '2 KB'],
      ['attachment', '100 KB attachment'],
    ]) {
      const cell = (fn) =>
        kinds.map(([k]) => {
          const v = results.enqueue[k]?.[variant]
          return v ? fn(v) : '-'
        })
      rows.push([`send() one at a time, msg/s (${title})`, ...cell((v) => spread(v.send.rate, 0))])
      rows.push([`send() p50 latency, ms (${title})`, ...cell((v) => spread(v.send.p50Ms))])
      rows.push([`send() p99 latency, ms (${title})`, ...cell((v) => spread(v.send.p99Ms))])
      rows.push([
        `sendMany() batches of 100, msg/s (${title})`,
        ...cell((v) => spread(v.sendManyBatch100.rate, 0)),
      ])
    }
    out.push({ title: '1. Enqueue (no worker running)', head, rows })
  }

  if (results.delivery) {
    const d = results.delivery
    const cell = (fn) => kinds.map(([k]) => (d[k] ? fn(d[k]) : '-'))
    const n = d.sqlite?.messages ?? d.postgres?.messages
    const rows = [
      ['Outbox worker, msg/s', ...cell((v) => spread(v.outboxRate, 0))],
      ['direct pooled Nodemailer, msg/s', ...cell((v) => spread(v.directRate, 0))],
      ['ratio Outbox / direct', ...cell((v) => spread(v.ratio))],
    ]
    const cpu = cpuBreakdown
    rows.push([
      `CPU µs per message, Outbox (worker + sink [+ ${serverLabel(kinds)}])`,
      ...cell((v) => cpu(v, 'outbox')),
    ])
    rows.push([
      `CPU µs per message, direct (sender + sink [+ ${serverLabel(kinds)}])`,
      ...cell((v) => cpu(v, 'direct')),
    ])
    if (d.noop) {
      rows.push([
        'worker with a no-op store (its own ceiling), ratio',
        ...kinds.map(() => spread(d.noop.ratio)),
      ])
      const c = d.noop.cpuUsPerMessage
      rows.push([
        'CPU µs per message, no-op store (worker + sink)',
        ...kinds.map(() =>
          c ? `${number(c.total, 0)} (${number(c.client, 0)} + ${number(c.sink, 0)})` : '-',
        ),
      ])
    }
    out.push({
      title: `2. Delivery of ${number(n, 0)} queued 2 KB messages, ${d.sqlite?.concurrency ?? 10} SMTP connections`,
      head,
      rows,
    })
  }

  if (results.templates) {
    const d = results.templates
    const cell = (fn) => kinds.map(([k]) => (d[k] ? fn(d[k]) : '-'))
    const any = d.sqlite ?? d.postgres
    out.push({
      title: `1b. send() with a stored template (a receipt: loop, numbers, a date; text made from the HTML) vs the same rendering given directly (${number(any?.messagesPerRun, 0)} per run, alternating)`,
      head,
      rows: [
        ['with the template, msg/s', ...cell((v) => spread(v.withTemplate.rate, 0))],
        ['rendered beforehand, msg/s', ...cell((v) => spread(v.without.rate, 0))],
        ['ratio with / without', ...cell((v) => spread(v.ratio))],
        [
          'p50 with / without, ms',
          ...cell(
            (v) =>
              `${number(v.withTemplate.p50Ms.median, 2)} / ${number(v.without.p50Ms.median, 2)}`,
          ),
        ],
        [
          'p99 with / without, ms',
          ...cell(
            (v) =>
              `${number(v.withTemplate.p99Ms.median, 2)} / ${number(v.without.p99Ms.median, 2)}`,
          ),
        ],
      ],
    })
  }

  if (results.webhooks) {
    const d = results.webhooks
    const cell = (fn) => kinds.map(([k]) => (d[k] ? fn(d[k]) : '-'))
    const any = d.sqlite ?? d.postgres
    out.push({
      title: `2d. Delivery of ${number(any?.messages, 0)} messages with and without a webhook receiving every \`sent\` event (alternating runs)`,
      head,
      rows: [
        ['with a webhook, msg/s', ...cell((v) => spread(v.withWebhook, 0))],
        ['without, msg/s', ...cell((v) => spread(v.withoutWebhook, 0))],
        ['ratio with / without', ...cell((v) => spread(v.ratio))],
        ['last event after the last delivery, ms', ...cell((v) => spread(v.lastEventLagMs, 0))],
        [
          `CPU µs per message with a webhook (worker + sink [+ ${serverLabel(kinds)}])`,
          ...cell((v) => cpuBreakdown(v, 'with')),
        ],
        [
          `CPU µs per message without (worker + sink [+ ${serverLabel(kinds)}])`,
          ...cell((v) => cpuBreakdown(v, 'without')),
        ],
        [
          'CPU µs per message, the receiver (not counted above)',
          ...cell((v) => (v.cpuUsPerMessage ? number(v.cpuUsPerMessage.receiver, 0) : '-')),
        ],
      ],
    })
  }

  if (results.deliverySlowUpstream) {
    const d = results.deliverySlowUpstream
    const cell = (fn) => kinds.map(([k]) => (d[k] ? fn(d[k]) : '-'))
    const any = d.sqlite ?? d.postgres
    out.push({
      title: `2b. The same with a distant upstream: the sink answers each message after ${any?.replyDelayMs} ms (${number(any?.messages, 0)} messages)`,
      head,
      rows: [
        ['Outbox worker, msg/s', ...cell((v) => spread(v.outboxRate, 0))],
        ['direct pooled Nodemailer, msg/s', ...cell((v) => spread(v.directRate, 0))],
        ['ratio Outbox / direct', ...cell((v) => spread(v.ratio))],
      ],
    })
  }

  const pgDelivery = results.delivery?.postgres
  const pgTables = pgDelivery?.tables
  if (pgTables) {
    out.push({
      title: `2c. PostgreSQL's tables after the last Outbox run of section 2 (${number(pgDelivery.messages, 0)} messages, from pg_stat_user_tables${pgTables.settled ? '' : '; the statistics had not settled'})`,
      head: ['table', 'rows inserted', 'updates', 'HOT updates', 'HOT %', 'indexes'],
      rows: Object.entries(pgTables.tables).map(([name, t]) => [
        name,
        number(t.inserted, 0),
        number(t.updated, 0),
        number(t.hotUpdated, 0),
        t.hotRatio === null ? '-' : number(t.hotRatio * 100, 0),
        String(t.indexes),
      ]),
    })
  }

  if (results.latency) {
    const cell = (fn) => kinds.map(([k]) => (results.latency[k] ? fn(results.latency[k]) : '-'))
    const n = results.latency.sqlite?.messagesPerRun ?? results.latency.postgres?.messagesPerRun
    out.push({
      title: `3. End-to-end latency, idle queue, send() resolved → at the sink (${number(n, 0)} messages one by one)`,
      head,
      rows: [
        ['worker in the same process: p50, ms', ...cell((v) => spread(v.inProcess.p50Ms))],
        ['worker in the same process: p99, ms', ...cell((v) => spread(v.inProcess.p99Ms))],
        ['worker in another process: p50, ms', ...cell((v) => spread(v.otherProcess.p50Ms))],
        ['worker in another process: p99, ms', ...cell((v) => spread(v.otherProcess.p99Ms))],
        // Only when a backend's runs stopped at their time budget (MariaDB, Redis).
        ...(kinds.some(([k]) => (results.latency[k]?.otherProcess.messages?.min ?? n) < n)
          ? [
              [
                'worker in another process: messages per run (time-bounded)',
                ...cell((v) => spread(v.otherProcess.messages ?? null, 0)),
              ],
            ]
          : []),
        [
          'same process, from calling send(): p50 / p99, ms',
          ...cell(
            (v) => `${spread(v.inProcess.fromCallP50Ms)} / ${spread(v.inProcess.fromCallP99Ms)}`,
          ),
        ],
      ],
    })
  }

  if (results.scale) {
    for (const [k, name] of kinds) {
      const levels = results.scale[k]?.levels
      if (!levels?.length) continue
      const col = (fn) => levels.map(fn)
      out.push({
        title: `4. Scale (${name}): messages queued in the store`,
        head: ['', ...levels.map((l) => number(l.messages, 0))],
        rows: [
          [
            'bulk insert (store enqueue, batches of 5,000), msg/s',
            ...col((l) => number(l.insertRate, 0)),
          ],
          ['claim a batch of 20, ms', ...col((l) => spread(l.claimMs))],
          ['list first page (50), admin call, ms', ...col((l) => spread(l.listFirstPageMs))],
          ['list --status queued first page, ms', ...col((l) => spread(l.listQueuedFirstPageMs))],
          ['stats, admin call, ms', ...col((l) => spread(l.statsMs))],
          ['`outbox list` CLI, wall time, ms', ...col((l) => spread(l.cliListMs, 0))],
          ['`outbox stats` CLI, wall time, ms', ...col((l) => spread(l.cliStatsMs, 0))],
          ['worker process RSS while working, MB', ...col((l) => spread(l.worker.rssMB, 0))],
          ['worker process peak RSS, MB', ...col((l) => number(l.worker.peakRssMB, 0))],
        ],
      })
    }
  }

  if (results.multiWorker) {
    const m = results.multiWorker
    out.push({
      title: `5. Worker processes on one PostgreSQL store (${number(m.messages, 0)} messages, concurrency 10 each)`,
      head: ['workers', 'msg/s', 'speed-up'],
      rows: m.results.map((r) => [String(r.workers), spread(r.rate, 0), number(r.speedup)]),
    })
  }

  if (results.smarthost) {
    const sh = results.smarthost
    const cell = (fn) => kinds.map(([k]) => (sh[k] ? fn(sh[k]) : '-'))
    const any = sh.sqlite ?? sh.postgres
    const cpu = (v, which) => {
      const c = v.cpuUsPerMessage?.[which]
      if (!c) return '-'
      const parts = [c.client, ...(which === 'outbox' ? [c.outbox] : []), c.sink]
      const server = serverCpu(c)
      if (server !== undefined) parts.push(server)
      const total = parts.reduce((sum, p) => sum + (p ?? 0), 0)
      return `${number(total, 0)} (${parts.map((p) => number(p, 0)).join(' + ')})`
    }
    out.push({
      title: `6. Smarthost end to end: Nodemailer (${any?.clientConnections} connections) → Outbox's SMTP listener → queue → worker → sink (${number(any?.messages, 0)} 2 KB messages)`,
      head,
      rows: [
        ['through Outbox, msg/s at the sink', ...cell((v) => spread(v.outboxRate, 0))],
        [
          'accepted by the listener (the client has every 250), msg/s',
          ...cell((v) => spread(v.outboxAcceptedRate, 0)),
        ],
        ['the same client straight to the sink, msg/s', ...cell((v) => spread(v.directRate, 0))],
        ['ratio Outbox / direct', ...cell((v) => spread(v.ratio))],
        [
          `CPU µs per message, through Outbox (client + Outbox + sink [+ ${serverLabel(kinds)}])`,
          ...cell((v) => cpu(v, 'outbox')),
        ],
        ['CPU µs per message, direct (client + sink)', ...cell((v) => cpu(v, 'direct'))],
      ],
    })
  }

  if (results.recovery?.sqlite) {
    const r = results.recovery.sqlite
    out.push({
      title: `7. Crash recovery (SQLite): a worker process killed with SIGKILL after ~${number(r.killAfter, 0)} of ${number(r.messages, 0)} messages (the sink answers in ${r.replyDelayMs} ms), a new one started at once`,
      head: ['', 'SQLite'],
      rows: [
        ['messages at the sink at the kill', spread(r.atKill, 0)],
        ['leased by the dead worker (sending at the kill)', spread(r.orphaned, 0)],
        ['new worker process ready, ms after the restart', spread(r.readyMs, 0)],
        ["the dead worker's leased messages delivered, ms", spread(r.orphansMs, 0)],
        ['every message at the sink, ms', spread(r.allMs, 0)],
        ['duplicates at the sink', spread(r.duplicates, 0)],
      ],
    })
  }

  if (results.outage) {
    const o = results.outage
    const cell = (fn) => kinds.map(([k]) => (o[k] ? fn(o[k]) : '-'))
    const any = o.sqlite ?? o.postgres
    const seconds = (summary) =>
      summary
        ? spread({
            median: summary.median / 1000,
            min: summary.min / 1000,
            max: summary.max / 1000,
          })
        : '-'
    out.push({
      title: `8. Upstream outage: ${number(any?.messages, 0)} messages queued while the upstream refuses connections for ${(any?.outageMs ?? 0) / 1000} s; from the moment it listens again`,
      head,
      rows: [
        ['first message at the sink, s', ...cell((v) => seconds(v.firstArrivalMs))],
        ['backlog drained (all recorded sent), s', ...cell((v) => seconds(v.drainMs))],
        ['attempts deferred by the outage', ...cell((v) => spread(v.deferredDuringOutage, 0))],
        [
          'worker saw the upstream down during the outage',
          ...cell((v) => (v.downDuringOutage ? 'yes' : 'no')),
        ],
      ],
    })
  }

  if (results.shaping) {
    const sh = results.shaping
    const cell = (fn) => kinds.map(([k]) => (sh[k] ? fn(sh[k]) : '-'))
    const any = sh.sqlite ?? Object.values(sh)[0]
    const seconds = (summary) => spread(summary, 2)
    const both = (fn) => (v) => `${fn(v.buckets.outbox)} / ${fn(v.buckets.direct)}`
    const rows = [
      [
        'Outbox worker process, every message at the sinks, s',
        ...cell((v) => seconds(v.outboxSeconds)),
      ],
      [
        'direct sender (in-process token buckets, 2 × 10 connections), s',
        ...cell((v) => seconds(v.directSeconds)),
      ],
      ['ratio direct time / Outbox time', ...cell((v) => spread(v.ratio))],
      [
        'the unlimited third of the mail all at the sink, s, Outbox / direct',
        ...cell(
          (v) => `${seconds(v.outboxUnlimitedSeconds)} / ${seconds(v.directUnlimitedSeconds)}`,
        ),
      ],
      [
        'Outbox, same routes without the limits (the queue alone), s',
        ...cell((v) => seconds(v.outboxWithoutLimitsSeconds)),
      ],
      [
        'the least the limits allow (past each burst, at its rate), s',
        ...cell((v) => number(v.idealSeconds, 2)),
      ],
    ]
    for (const name of Object.keys(any?.buckets.outbox ?? {})) {
      const b = any.buckets.outbox[name]
      const label = name === 'b' ? `upstream b (${b.ratePerSec}/s)` : `${name} (${b.ratePerSec}/s)`
      rows.push([
        `${label}: achieved rate past the burst, msg/s, Outbox / direct`,
        ...cell(both((x) => spread(x[name].achievedRate, 0))),
      ])
      rows.push([
        `${label}: most arrivals in any 1 s (bound ${number(b.bound, 0)}), Outbox / direct`,
        ...cell(both((x) => spread(x[name].maxPerSecond, 0))),
      ])
    }
    rows.push([
      'limits held in every run, Outbox / direct',
      ...cell(both((x) => (Object.values(x).every((b) => b.held) ? 'yes' : 'NO'))),
    ])
    const cpu = (c, keys) =>
      c ? `${number(c.total, 0)} (${keys.map((k) => number(c[k], 0)).join(' + ')})` : '-'
    rows.push([
      `CPU µs per message, Outbox (worker + sinks [+ ${serverLabel(kinds)}])`,
      ...cell((v) => {
        const c = v.cpuUsPerMessage.outbox
        const server = serverCpu(c)
        return cpu(c, [
          'worker',
          'sink',
          ...(server !== undefined
            ? SERVER_CPU.filter(([k]) => c[k] !== undefined).map(([k]) => k)
            : []),
        ])
      }),
    ])
    rows.push([
      'CPU µs per message, direct (sender + sinks)',
      ...cell((v) => cpu(v.cpuUsPerMessage.direct, ['client', 'sink'])),
    ])
    out.push({
      title: `9. Traffic shaping: ${number(any?.messages, 0)} queued 2 KB messages, ¼ to limited.example (domain limit ${any?.buckets.outbox['limited.example']?.ratePerSec}/s), ⅜ to b.example (routed to upstream b, ${any?.buckets.outbox.b?.ratePerSec}/s), the rest unlimited; two sinks, concurrency ${any?.concurrency}; every message arrived once, at its upstream's sink`,
      head,
      rows,
    })
  }
  return out
}

function pad(text, width) {
  return text + ' '.repeat(Math.max(0, width - [...text].length))
}

/** The results for a terminal. */
export function formatText(results) {
  const lines = []
  const m = results.machine
  lines.push(
    `Outbox benchmark, ${results.date}${results.quick ? ' (QUICK: small sizes, not for publishing)' : ''}`,
  )
  lines.push(
    `${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}, ${m.os}; PostgreSQL: ${m.postgres}` +
      (m.mariadb !== undefined ? `; MariaDB: ${m.mariadb}` : '') +
      (m.redis !== undefined ? `; Redis: ${m.redis}` : ''),
  )
  const src = results.source
  if (src) {
    lines.push(
      `Commit ${src.commit}${src.uncommittedSource.length ? ` plus uncommitted changes to ${src.uncommittedSource.join(', ')}` : ''}`,
    )
  }
  lines.push('Figures: median [min–max] of the runs.')
  for (const table of tables(results)) {
    lines.push('', table.title)
    const all = [table.head, ...table.rows]
    const widths = table.head.map((_, i) => Math.max(...all.map((r) => [...(r[i] ?? '')].length)))
    for (const row of all)
      lines.push(
        '  ' +
          row
            .map((c, i) => pad(c ?? '', widths[i]))
            .join('   ')
            .trimEnd(),
      )
  }
  lines.push('', 'Targets')
  for (const t of results.targets) {
    lines.push(
      `  ${t.met ? 'met   ' : 'MISSED'}  ${t.target}: ${number(t.value)}${t.note ? ` (${t.note})` : ''}`,
    )
  }
  if (results.skipped.length) lines.push('', ...results.skipped.map((s) => `Skipped: ${s}`))
  lines.push('', `Total time: ${number(results.totalSeconds, 0)} s`)
  return lines.join('\n')
}

/** The results as Markdown tables, for bench/README.md. */
export function formatMarkdown(results) {
  const lines = []
  for (const table of tables(results)) {
    lines.push(`### ${table.title}`, '')
    lines.push(`| ${table.head.join(' | ')} |`)
    lines.push(`| ${table.head.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`)
    for (const row of table.rows) lines.push(`| ${row.join(' | ')} |`)
    lines.push('')
  }
  lines.push('### Targets', '', '| target | measured | |', '| --- | ---: | --- |')
  for (const t of results.targets) {
    lines.push(`| ${t.target} | ${number(t.value)} | ${t.met ? 'met' : '**missed**'} |`)
  }
  return lines.join('\n')
}
