// The overview's two charts, drawn with uPlot (loaded as a global by index.html).

const COLORS = {
  sent: '#2f9e44',
  deferred: '#e8890c',
  failed: '#d6336c',
  waiting: '#1971c2',
  held: '#868e96',
}

function series(label, color, fill) {
  return {
    label,
    stroke: color,
    width: 2,
    fill: fill ? `${color}22` : undefined,
    points: { show: false },
  }
}

function chart(target, title, seriesList, data, xRange) {
  const width = Math.max(280, target.clientWidth - 8)
  const opts = {
    title,
    width,
    height: 220,
    series: [{}, ...seriesList],
    scales: {
      // The same time span on both charts, even while the depth history is only minutes old.
      x: { time: true, range: () => xRange() },
      y: { range: (_u, _min, max) => [0, Math.max(5, Math.ceil(max * 1.1))] },
    },
    axes: [{}, { size: 50 }],
    legend: { live: true },
  }
  return new window.uPlot(opts, data, target)
}

/** Attempts per bucket, zero-filled from `since` to now so that quiet minutes show as 0. */
export function activityData(activity, now) {
  const { since, bucketMs, buckets } = activity
  const start = new Date(since).getTime()
  const end = new Date(now).getTime()
  const byTime = new Map(buckets.map((b) => [new Date(b.at).getTime(), b]))
  const xs = []
  const sent = []
  const deferred = []
  const failed = []
  for (let t = start; t <= end && xs.length < 2000; t += bucketMs) {
    const b = byTime.get(t)
    xs.push(t / 1000)
    sent.push(b ? b.sent : 0)
    deferred.push(b ? b.deferred : 0)
    failed.push(b ? b.failed : 0)
  }
  return [xs, sent, deferred, failed]
}

export function depthData(depth) {
  const xs = depth.map((s) => new Date(s.at).getTime() / 1000)
  const waiting = depth.map((s) => s.counts.queued + s.counts.deferred + s.counts.sending)
  const held = depth.map((s) => s.counts.held)
  return [xs, waiting, held]
}

/** Draws (or redraws with new data) the activity and depth charts. */
export function drawCharts(state, activityEl, depthEl, stats) {
  if (!window.uPlot) return
  const per = stats.activity.bucketMs >= 300_000 ? '5 minutes' : 'minute'
  const a = activityData(stats.activity, stats.now)
  const d = depthData(stats.depth)
  // Read at each redraw, so the window follows the latest stats.
  state.span = [
    new Date(stats.activity.since).getTime() / 1000,
    new Date(stats.now).getTime() / 1000,
  ]
  const xRange = () => state.span
  if (!state.activity || !activityEl.contains(state.activity.root)) {
    activityEl.replaceChildren()
    state.activity = chart(
      activityEl,
      `Attempts per ${per}`,
      [
        series('sent', COLORS.sent, true),
        series('deferred', COLORS.deferred),
        series('failed', COLORS.failed),
      ],
      a,
      xRange,
    )
  } else state.activity.setData(a)
  if (!state.depth || !depthEl.contains(state.depth.root)) {
    depthEl.replaceChildren()
    state.depth = chart(
      depthEl,
      'Queue depth',
      [series('waiting', COLORS.waiting, true), series('held', COLORS.held)],
      d,
      xRange,
    )
  } else state.depth.setData(d)
}
