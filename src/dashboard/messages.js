// The message list: filters kept in the URL (#/messages?status=failed&to=…), keyset paging,
// selection and bulk actions.
import { api } from './api.js'
import { h, clear, toast } from './dom.js'
import { ago, bytes, dateTime, STATUSES } from './format.js'

const FILTER_KEYS = ['status', 'to', 'from', 'subject', 'tag', 'since', 'before']

export function statusBadge(message) {
  const label = message.captured && message.status === 'sent' ? 'captured' : message.status
  return h('span', { class: `badge ${label}` }, label)
}

/** A table of messages; with a `selection` Set, a checkbox per row. */
export function messageTable(messages, selection, onSelect) {
  const head = h(
    'tr',
    {},
    selection
      ? h(
          'th',
          { scope: 'col', class: 'check' },
          h('input', {
            type: 'checkbox',
            'aria-label': 'Select all on this page',
            onchange: (e) => {
              for (const m of messages) {
                if (e.target.checked) selection.add(m.id)
                else selection.delete(m.id)
              }
              e.target
                .closest('table')
                .querySelectorAll('tbody input[type=checkbox]')
                .forEach((box) => (box.checked = e.target.checked))
              onSelect?.()
            },
          }),
        )
      : null,
    ['Status', 'Created', 'From', 'To', 'Subject', 'Tags', 'Tries', 'Size'].map((t) =>
      h('th', { scope: 'col' }, t),
    ),
  )
  const rows = messages.map((m) =>
    h(
      'tr',
      { dataset: { id: m.id } },
      selection
        ? h(
            'td',
            { class: 'check' },
            h('input', {
              type: 'checkbox',
              'aria-label': `Select ${m.subject ?? m.id}`,
              checked: selection.has(m.id),
              onchange: (e) => {
                if (e.target.checked) selection.add(m.id)
                else selection.delete(m.id)
                onSelect?.()
              },
            }),
          )
        : null,
      h('td', {}, statusBadge(m)),
      h('td', { title: dateTime(m.createdAt) }, ago(m.createdAt)),
      h('td', { class: 'clip' }, m.from),
      h('td', { class: 'clip' }, m.recipients.join(', ')),
      h(
        'td',
        { class: 'clip subject' },
        h('a', { href: `#/messages/${encodeURIComponent(m.id)}` }, m.subject || '(no subject)'),
      ),
      h(
        'td',
        {},
        m.tags.map((t) => h('span', { class: 'tag' }, t)),
      ),
      h('td', { class: 'num' }, m.attempts),
      h('td', { class: 'num' }, bytes(m.size)),
    ),
  )
  return h(
    'div',
    { class: 'table-wrap' },
    h('table', { class: 'messages' }, h('thead', {}, head), h('tbody', {}, rows)),
  )
}

/** Filters from the URL, as the API wants them (dates from datetime-local as ISO). */
function filterFromParams(params) {
  const filter = {}
  for (const key of FILTER_KEYS) {
    const value = params.get(key)
    if (!value) continue
    filter[key] = key === 'since' || key === 'before' ? new Date(value).toISOString() : value
  }
  return filter
}

function filterForm(params) {
  const field = (name, label, attrs = {}) =>
    h(
      'label',
      {},
      h('span', {}, label),
      h('input', { name, value: params.get(name) ?? '', ...attrs }),
    )
  const status = h(
    'select',
    { name: 'status' },
    h('option', { value: '' }, 'any'),
    STATUSES.map((s) => h('option', { value: s, selected: params.get('status') === s }, s)),
    params.get('status')?.includes(',')
      ? h('option', { value: params.get('status'), selected: true }, params.get('status'))
      : null,
  )
  const form = h(
    'form',
    { class: 'filters', role: 'search' },
    h(
      'label',
      { class: 'grow' },
      h('span', {}, 'Search'),
      h('input', {
        id: 'search',
        name: 'q',
        type: 'search',
        value: params.get('to') ?? params.get('subject') ?? '',
        placeholder: 'recipient address, @domain, or words of the subject  ( / )',
      }),
    ),
    h('label', {}, h('span', {}, 'Status'), status),
    field('from', 'From'),
    field('tag', 'Tag'),
    field('since', 'Since', { type: 'datetime-local' }),
    field('before', 'Before', { type: 'datetime-local' }),
    h(
      'div',
      { class: 'form-buttons' },
      h('button', { type: 'submit' }, 'Filter'),
      h('a', { href: '#/messages', class: 'button secondary' }, 'Clear'),
    ),
  )
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    const data = new FormData(form)
    const next = new URLSearchParams()
    const q = String(data.get('q') ?? '').trim()
    // One search box: an address (or @domain) searches recipients, anything else the subject.
    if (q) next.set(q.includes('@') ? 'to' : 'subject', q)
    for (const key of ['status', 'from', 'tag', 'since', 'before']) {
      const v = String(data.get(key) ?? '').trim()
      if (v) next.set(key, v)
    }
    location.hash = `#/messages?${next}`
  })
  return form
}

export async function renderMessages(main, params) {
  const filter = filterFromParams(params)
  const cursor = params.get('cursor')
  const page = await api.list({ ...filter, limit: 50, cursor })
  const selection = new Set()
  const hasFilter = Object.keys(filter).length > 0

  const countLabel = h('span', { class: 'muted' })
  const bulkButtons = ['retry', 'hold', 'release', 'delete'].map((action) =>
    h(
      'button',
      {
        type: 'button',
        class: action === 'delete' ? 'danger' : 'secondary',
        disabled: true,
        onclick: () => bulk(action, false),
      },
      `${action[0].toUpperCase()}${action.slice(1)} selected`,
    ),
  )
  const allButtons = hasFilter
    ? ['retry', 'hold', 'delete'].map((action) =>
        h(
          'button',
          { type: 'button', class: 'secondary', onclick: () => bulk(action, true) },
          `${action[0].toUpperCase()}${action.slice(1)} all matching`,
        ),
      )
    : []
  const updateSelection = () => {
    countLabel.textContent = selection.size ? `${selection.size} selected` : ''
    bulkButtons.forEach((b) => (b.disabled = selection.size === 0))
  }

  async function bulk(action, all) {
    const what = all ? 'every message matching this filter' : `${selection.size} message(s)`
    if ((action === 'delete' || all) && !confirm(`${action} ${what}?`)) return
    try {
      const result = await api.bulk(action, all ? { filter } : { ids: [...selection] })
      toast(
        `${action}: ${result.changed.length} changed${result.unchanged.length ? `, ${result.unchanged.length} not applicable` : ''}`,
      )
      await renderMessages(main, params)
    } catch (error) {
      toast(error.message, 'error')
    }
  }

  const nextParams = new URLSearchParams(params)
  if (page.nextCursor) nextParams.set('cursor', page.nextCursor)
  const firstParams = new URLSearchParams(params)
  firstParams.delete('cursor')

  clear(
    main,
    h('h1', {}, 'Messages'),
    filterForm(params),
    h(
      'div',
      { class: 'toolbar', role: 'toolbar', 'aria-label': 'Bulk actions' },
      bulkButtons,
      allButtons,
      countLabel,
    ),
    page.messages.length === 0
      ? h(
          'p',
          { class: 'muted empty' },
          hasFilter ? 'No message matches these filters.' : 'The queue is empty.',
        )
      : messageTable(page.messages, selection, updateSelection),
    h(
      'nav',
      { class: 'pager', 'aria-label': 'Pages' },
      cursor ? h('a', { href: `#/messages?${firstParams}` }, '← First page') : null,
      page.nextCursor
        ? h('a', { href: `#/messages?${nextParams}`, id: 'next-page' }, 'Next page →')
        : null,
    ),
  )
}
