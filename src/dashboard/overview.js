// The overview page: counts, oldest waiting message, charts, upstream health and, in capture
// mode, the newest mail (the dashboard as a local mail catcher).
import { api } from './api.js'
import { drawCharts } from './charts.js'
import { h, clear } from './dom.js'
import { ago, dateTime, duration, STATUSES } from './format.js'
import { messageTable } from './messages.js'

const chartState = {}

function card(label, value, href, extra) {
  return h(
    'a',
    { class: 'card', href },
    h('span', { class: 'card-value' }, value),
    h('span', { class: 'card-label' }, label),
    extra,
  )
}

// `problem` comes from the attempt log (any process's worker); `down` only from this process's.
// With several upstreams, the state and errors of each are in the Upstreams panel below: the
// attempt log's newest problem names no upstream, so it is not shown here then.
function upstreamPanel(upstream, problem, routing) {
  const several = (routing?.upstreams.length ?? 0) > 1 ? routing.upstreams : null
  const down = several ? several.filter((u) => u.state === 'down') : []
  const state = upstream.capture
    ? h('span', { class: 'badge captured' }, 'capture mode')
    : several
      ? down.length > 0
        ? h('span', { class: 'badge failed' }, `${down.length} of ${several.length} down — probing`)
        : several.every((u) => u.state === 'unknown')
          ? h('span', { class: 'badge' }, 'state known to the workers')
          : h('span', { class: 'badge sent' }, 'up')
      : problem?.kind === 'misconfigured'
        ? h('span', { class: 'badge failed' }, 'misconfigured — fix needed')
        : upstream.down === true
          ? h('span', { class: 'badge failed' }, 'down — probing')
          : upstream.down === false
            ? h('span', { class: 'badge sent' }, 'up')
            : h('span', { class: 'badge' }, 'state known to the workers')
  const shownProblem = several ? null : problem
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'upstream-title' },
    h('h2', { id: 'upstream-title' }, 'Upstream'),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Delivers to'),
      h(
        'dd',
        {},
        upstream.capture
          ? 'nowhere: mail is captured and kept here'
          : several
            ? `${several.length} upstreams, as the routes say: ${several.map((u) => u.name).join(', ')}`
            : upstream.label,
      ),
      h('dt', {}, 'State'),
      h('dd', {}, state),
      shownProblem
        ? h('dt', {}, shownProblem.kind === 'misconfigured' ? 'Misconfigured' : 'Unreachable')
        : null,
      shownProblem
        ? h(
            'dd',
            { role: 'alert' },
            h('span', { title: dateTime(shownProblem.at) }, ago(shownProblem.at)),
            ': ',
            h('code', {}, shownProblem.error),
          )
        : null,
      h('dt', {}, 'Last success'),
      h('dd', { title: dateTime(upstream.lastSuccessAt) }, ago(upstream.lastSuccessAt)),
      several ? null : h('dt', {}, 'Last error'),
      several
        ? null
        : h(
            'dd',
            {},
            upstream.lastError
              ? [
                  h('span', { title: dateTime(upstream.lastError.at) }, ago(upstream.lastError.at)),
                  ': ',
                  h('code', {}, upstream.lastError.error),
                ]
              : 'none',
          ),
    ),
  )
}

function rateText(current, configured, text) {
  const shown = (r) => (r >= 1 ? `${Math.round(r * 10) / 10}/s` : `${Math.round(r * 600) / 10}/m`)
  if (configured === null && current !== null) return `${shown(current)} (throttled; no limit set)`
  if (configured === null || current === null) return 'unlimited'
  if (current >= configured - 1e-9) return text
  return `${shown(current)} of ${text} (throttled)`
}

function upstreamState(u) {
  if (u.state === 'unknown') return h('span', { class: 'badge' }, 'no worker running')
  if (u.state === 'up') return h('span', { class: 'badge sent' }, 'up')
  const seconds = u.downSince
    ? Math.max(0, Math.round((Date.now() - new Date(u.downSince).getTime()) / 1000))
    : null
  return [
    h(
      'span',
      { class: 'badge failed', title: dateTime(u.downSince) },
      `${u.misconfigured ? 'misconfigured' : 'down'} — probing`,
    ),
    seconds === null ? null : h('div', { class: 'muted small' }, `for ${duration(seconds)}`),
  ]
}

function connectionsText(u) {
  return `${u.connections}${u.maxConnections !== null ? ` of ${u.maxConnections}` : ''}`
}

// The error in full on hover; on the page, clamped to two lines so a long reply cannot stretch
// the row.
function lastErrorCell(lastError) {
  if (!lastError) return h('td', { class: 'muted' }, 'none')
  return h(
    'td',
    { class: 'last-error' },
    h(
      'div',
      { class: 'clamp', title: lastError.error },
      h('span', { class: 'muted', title: dateTime(lastError.at) }, ago(lastError.at)),
      ' ',
      h('code', {}, lastError.error),
    ),
  )
}

const head = (columns) =>
  h(
    'thead',
    {},
    h(
      'tr',
      {},
      columns.map(([t, cls]) => h('th', { scope: 'col', class: cls }, t)),
    ),
  )

// Every named upstream and limited domain, as the workers report them to the store. Left out
// when it would only repeat the Upstream panel: one upstream, no limits.
function routingPanel(routing) {
  if (!routing) return null
  const only = routing.upstreams.length === 1 ? routing.upstreams[0] : null
  if (
    routing.upstreams.length === 0 ||
    (only && only.rateLimit === null && routing.domains.length === 0)
  )
    return null
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'upstreams-title' },
    h('h2', { id: 'upstreams-title' }, 'Upstreams'),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'upstreams' },
        head([
          ['Upstream'],
          ['State'],
          ['Rate'],
          ['Connections', 'num'],
          ['Sent 1h', 'num'],
          ['Deferred 1h', 'num'],
          ['Failed 1h', 'num'],
          ['Last error'],
        ]),
        h(
          'tbody',
          {},
          routing.upstreams.map((u) =>
            h(
              'tr',
              { 'data-upstream': u.name },
              h('td', {}, u.name),
              h('td', {}, upstreamState(u)),
              h(
                'td',
                { title: u.throttledAt ? `throttled ${dateTime(u.throttledAt)}` : null },
                rateText(u.currentRatePerSec, u.configuredRatePerSec, u.rateLimit),
              ),
              h('td', { class: 'num' }, connectionsText(u)),
              h('td', { class: 'num' }, u.lastHour.sent.toLocaleString()),
              h('td', { class: 'num' }, u.lastHour.deferred.toLocaleString()),
              h('td', { class: 'num' }, u.lastHour.failed.toLocaleString()),
              lastErrorCell(u.lastError),
            ),
          ),
        ),
      ),
    ),
    routing.domains.length === 0
      ? null
      : [
          h('h3', { id: 'domain-limits-title' }, 'Rate-limited recipient domains'),
          h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'domain-limits', 'aria-labelledby': 'domain-limits-title' },
              head([['Domain'], ['Rate']]),
              h(
                'tbody',
                {},
                routing.domains.map((d) =>
                  h(
                    'tr',
                    { 'data-domain': d.domain },
                    h('td', {}, d.domain),
                    h(
                      'td',
                      { title: d.throttledAt ? `throttled ${dateTime(d.throttledAt)}` : null },
                      rateText(d.currentRatePerSec, d.configuredRatePerSec, d.rateLimit),
                    ),
                  ),
                ),
              ),
            ),
          ),
        ],
  )
}

export async function renderOverview(main) {
  const [stats, recent] = await Promise.all([api.stats(), api.list({ limit: 15 })])
  const counts = stats.counts
  const total = STATUSES.reduce((n, s) => n + counts[s], 0)
  const activityEl =
    main.querySelector('#chart-activity') ?? h('div', { id: 'chart-activity', class: 'chart' })
  const depthEl =
    main.querySelector('#chart-depth') ?? h('div', { id: 'chart-depth', class: 'chart' })
  const recentTitle = stats.upstream.capture ? 'Captured mail, newest first' : 'Latest messages'
  clear(
    main,
    h('h1', {}, 'Overview'),
    stats.upstreamProblem?.kind === 'misconfigured'
      ? h(
          'p',
          { class: 'notice', role: 'alert' },
          (stats.routing?.upstreams.length ?? 0) > 1
            ? 'An upstream is misconfigured: its messages wait without losing attempts (see Upstreams below). '
            : 'Delivery is paused: the upstream is misconfigured. Messages wait without losing attempts. ',
          h('code', {}, stats.upstreamProblem.error),
        )
      : null,
    stats.durabilityWarning
      ? h(
          'p',
          { class: 'notice', role: 'alert' },
          'The store can lose mail it has already accepted: ',
          h('code', {}, stats.durabilityWarning),
        )
      : null,
    stats.upstream.capture
      ? h(
          'p',
          { class: 'notice' },
          'No upstream is configured: Outbox keeps every message here instead of sending it. Open one to see it as the recipient would.',
        )
      : null,
    h(
      'section',
      { class: 'cards', 'aria-label': 'Messages per status' },
      STATUSES.map((s) => card(s, counts[s].toLocaleString(), `#/messages?status=${s}`, null)),
      card(
        'oldest waiting',
        duration(stats.oldestWaitingSeconds),
        '#/messages?status=queued,deferred,sending',
        null,
      ),
    ),
    h(
      'p',
      { class: 'muted' },
      `${total.toLocaleString()} messages stored · last hour: ${stats.sentLastHour} sent, ${stats.failedLastHour} failed · last day: ${stats.sentLastDay} sent, ${stats.failedLastDay} failed`,
    ),
    h(
      'div',
      { class: 'grid' },
      h('section', { class: 'panel' }, activityEl),
      h('section', { class: 'panel' }, depthEl),
    ),
    upstreamPanel(stats.upstream, stats.upstreamProblem, stats.routing),
    routingPanel(stats.routing),
    h(
      'section',
      { class: 'panel' },
      h('h2', {}, recentTitle),
      recent.messages.length === 0
        ? h('p', { class: 'muted' }, 'No mail yet.')
        : messageTable(recent.messages, null),
      h('p', {}, h('a', { href: '#/messages' }, 'All messages →')),
    ),
  )
  drawCharts(chartState, activityEl, depthEl, stats)
}
