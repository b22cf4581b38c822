// The webhook endpoints (#/webhooks): each one's state, backlog and last error, and sending
// again what they gave up on. The last error is the receiver's answer: text, never markup.
import { api } from './api.js'
import { h, clear, toast } from './dom.js'
import { ago, dateTime } from './format.js'

/** A state's badge, in the colours the message statuses already use. */
const STATE_BADGE = { ok: 'sent', failing: 'deferred', 'gave-up': 'failed', new: 'held' }
const STATE_TITLE = {
  ok: 'Delivering',
  failing: 'Retrying a batch the receiver refused or did not answer',
  'gave-up': 'Some batches were given up: “Retry given-up” sends them again',
  new: 'Nothing delivered yet',
}

/** A past time as “5m ago”, the full date on hover. */
const when = (value) => h('td', { title: value ? dateTime(value) : null }, ago(value))

function webhookRow(w, onRetry) {
  const error = w.lastError
    ? [
        h('span', { class: 'webhook-error' }, w.lastError),
        h('span', { class: 'muted', title: dateTime(w.lastErrorAt) }, ` (${ago(w.lastErrorAt)})`),
      ]
    : '—'
  return h(
    'tr',
    { dataset: { webhook: w.name, state: w.state } },
    h('td', {}, h('strong', {}, w.name), h('div', { class: 'muted clip-line' }, w.url)),
    h('td', {}, w.events.join(', ')),
    h(
      'td',
      {},
      h(
        'span',
        { class: `badge ${STATE_BADGE[w.state] ?? ''}`, title: STATE_TITLE[w.state] },
        w.state,
      ),
    ),
    h('td', { class: 'num' }, w.backlog.toLocaleString()),
    h('td', { class: 'num' }, w.delivered.toLocaleString()),
    h('td', { class: 'num' }, w.uncertain.toLocaleString()),
    when(w.lastSuccessAt),
    h('td', { class: 'webhook-last-error' }, error),
    h(
      'td',
      { title: w.nextAttemptAt ? dateTime(w.nextAttemptAt) : null },
      !w.nextAttemptAt
        ? '—'
        : new Date(w.nextAttemptAt).getTime() <= Date.now()
          ? 'due'
          : ago(w.nextAttemptAt),
    ),
    h(
      'td',
      { class: 'num', title: `${w.failed.events} events` },
      w.failed.batches.toLocaleString(),
    ),
    h(
      'td',
      {},
      h(
        'button',
        {
          type: 'button',
          class: 'small',
          'aria-label': `Retry given-up events of ${w.name}`,
          disabled: w.failed.batches === 0,
          onclick: () => onRetry([w.name]),
        },
        'Retry given-up',
      ),
    ),
  )
}

function webhookTable(webhooks, onRetry) {
  const columns = [
    'Endpoint',
    'Events',
    'State',
    'Backlog',
    'Delivered',
    'Uncertain',
    'Last success',
    'Last error',
    'Next attempt',
    'Failed batches',
    '',
  ]
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'webhooks' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          columns.map((t) => h('th', { scope: 'col' }, t)),
        ),
      ),
      h(
        'tbody',
        {},
        webhooks.map((w) => webhookRow(w, onRetry)),
      ),
    ),
  )
}

export async function renderWebhooks(main) {
  const { webhooks } = await api.webhooks()

  async function retry(names) {
    try {
      const { asked } = await api.retryWebhooks(names)
      toast(
        `Asked ${asked} endpoint${asked === 1 ? '' : 's'} to send again what ${asked === 1 ? 'it' : 'they'} gave up on`,
      )
      await renderWebhooks(main)
    } catch (error) {
      toast(error.message, 'error')
    }
  }

  const gaveUp = webhooks.filter((w) => w.failed.batches > 0)
  clear(
    main,
    h('h1', {}, 'Webhooks'),
    h(
      'p',
      { class: 'muted' },
      'Endpoints receiving the events of the log, delivered by the worker processes, retried with ' +
        'backoff until they are given up (their retryFor, 24 h by default).',
    ),
    webhooks.length === 0
      ? h(
          'p',
          { class: 'muted empty', id: 'webhooks-empty' },
          'No webhooks are configured. Add endpoints with the webhooks option: ',
          h('code', {}, "webhooks: [{ url, events: ['failed', 'bounced'], secret }]"),
        )
      : [
          gaveUp.length > 1
            ? h(
                'p',
                {},
                h(
                  'button',
                  { type: 'button', onclick: () => retry(gaveUp.map((w) => w.name)) },
                  `Retry given-up events of all ${gaveUp.length} endpoints`,
                ),
              )
            : null,
          webhookTable(webhooks, retry),
        ],
  )
}
