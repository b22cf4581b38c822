// One message: envelope, per-recipient status, attempt log, the body (HTML in a sandboxed
// frame, remote images only on request), headers, attachments and actions.
import { api } from './api.js'
import { h, clear, toast } from './dom.js'
import { ago, bytes, dateTime } from './format.js'
import { statusBadge } from './messages.js'

function facts(pairs) {
  return h(
    'dl',
    { class: 'facts' },
    pairs
      .filter(([, v]) => v !== null && v !== undefined && v !== '')
      .map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
  )
}

function table(headers, rows, cls = '') {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: cls },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          headers.map((t) => h('th', { scope: 'col' }, t)),
        ),
      ),
      h(
        'tbody',
        {},
        rows.map((cells) =>
          h(
            'tr',
            {},
            cells.map((c) => h('td', {}, c)),
          ),
        ),
      ),
    ),
  )
}

function bodyView(m) {
  const base = `/api/messages/${encodeURIComponent(m.id)}`
  const panels = {}
  const tabs = []
  const tabList = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Message content' })
  const show = (name) => {
    for (const [key, panel] of Object.entries(panels)) panel.hidden = key !== name
    for (const tab of tabs) tab.setAttribute('aria-selected', String(tab.dataset.tab === name))
  }
  const addTab = (name, label, panel) => {
    panels[name] = panel
    const tab = h(
      'button',
      { type: 'button', role: 'tab', dataset: { tab: name }, onclick: () => show(name) },
      label,
    )
    tabs.push(tab)
    tabList.append(tab)
  }
  if (m.hasHtml) {
    const frame = h('iframe', {
      class: 'mail-html',
      title: 'HTML body',
      // No scripts, no same-origin access, no forms; the server's CSP adds "no network".
      sandbox: 'allow-popups allow-popups-to-escape-sandbox',
      src: `${base}/html`,
      referrerpolicy: 'no-referrer',
    })
    const images = h(
      'button',
      {
        type: 'button',
        class: 'secondary small',
        onclick: () => {
          frame.src = `${base}/html?images=1`
          images.disabled = true
          images.textContent = 'Remote images shown'
        },
      },
      'Show remote images',
    )
    addTab(
      'html',
      'HTML',
      h(
        'div',
        { role: 'tabpanel' },
        h('p', { class: 'muted small' }, 'Remote images are blocked until you ask. ', images),
        frame,
      ),
    )
  }
  addTab(
    'text',
    'Text',
    h(
      'div',
      { role: 'tabpanel' },
      m.text
        ? h('pre', { class: 'mail-text' }, m.text)
        : h('p', { class: 'muted' }, 'No text part.'),
    ),
  )
  addTab(
    'headers',
    'Headers',
    h(
      'div',
      { role: 'tabpanel' },
      table(
        ['Name', 'Value'],
        m.headers.map((x) => [x.name, h('code', {}, x.value)]),
        'headers',
      ),
    ),
  )
  show(m.hasHtml ? 'html' : 'text')
  return h(
    'section',
    { class: 'panel' },
    h('h2', {}, 'Content'),
    tabList,
    Object.values(panels),
    m.attachments.length
      ? [
          h('h3', {}, 'Attachments'),
          h(
            'ul',
            { class: 'attachments' },
            m.attachments.map((a) =>
              h(
                'li',
                {},
                h(
                  'a',
                  { href: `${base}/attachments/${a.index}`, download: a.filename ?? '' },
                  a.filename ?? `attachment ${a.index}`,
                ),
                ` ${a.contentType}, ${bytes(a.size)}${a.inline ? ', inline' : ''}`,
              ),
            ),
          ),
        ]
      : null,
    h('p', {}, h('a', { href: `${base}/raw`, download: `${m.id}.eml` }, 'Download .eml')),
  )
}

export async function renderMessage(main, id) {
  const m = await api.message(id)
  const act = async (action) => {
    if (action === 'delete' && !confirm('Delete this message and its attempt log?')) return
    try {
      const result = await api.act(m.id, action)
      if (result.changed.length === 0)
        toast(`${action}: not applicable to a ${m.status} message`, 'error')
      else toast(`${action}: done`)
      if (action === 'delete') location.hash = '#/messages'
      else await renderMessage(main, id)
    } catch (error) {
      toast(error.message, 'error')
    }
  }
  const can = {
    retry: m.status === 'deferred' || m.status === 'failed',
    hold: m.status === 'queued' || m.status === 'deferred',
    release: m.status === 'held',
    delete: true,
  }
  clear(
    main,
    h('p', {}, h('a', { href: '#/messages' }, '← Messages')),
    h('div', { class: 'title-row' }, h('h1', {}, m.subject || '(no subject)'), statusBadge(m)),
    h(
      'div',
      { class: 'toolbar', role: 'toolbar', 'aria-label': 'Actions' },
      Object.entries(can)
        .filter(([, ok]) => ok)
        .map(([action]) =>
          h(
            'button',
            {
              type: 'button',
              class: action === 'delete' ? 'danger' : 'secondary',
              onclick: () => act(action),
            },
            action[0].toUpperCase() + action.slice(1),
          ),
        ),
    ),
    h(
      'div',
      { class: 'grid' },
      h(
        'section',
        { class: 'panel' },
        h('h2', {}, 'Envelope'),
        facts([
          ['From', m.from],
          ['To', m.recipients.join(', ')],
          ['Queue id', h('code', {}, m.id)],
          ['Message-ID', h('code', {}, m.messageId)],
          ['Priority', m.priority],
          ['Tags', m.tags.join(', ')],
          [
            'Template',
            m.template
              ? h(
                  'a',
                  {
                    href: `#/templates/${encodeURIComponent(m.template.name)}?language=${encodeURIComponent(m.template.language)}&version=${m.template.version}`,
                  },
                  `${m.template.name} (${m.template.language}, version ${m.template.version})`,
                )
              : null,
          ],
          ['Size', bytes(m.size)],
        ]),
      ),
      h(
        'section',
        { class: 'panel' },
        h('h2', {}, 'Schedule'),
        facts([
          ['Created', `${dateTime(m.createdAt)} (${ago(m.createdAt)})`],
          [
            'Next attempt',
            m.dueAt && !m.finishedAt ? `${dateTime(m.dueAt)} (${ago(m.dueAt)})` : null,
          ],
          ['Finished', m.finishedAt ? dateTime(m.finishedAt) : null],
          ['Gives up at', m.finishedAt ? null : dateTime(m.expiresAt)],
          ['Attempts', m.attempts],
          ['Upstream', m.upstream ? `${m.upstream} (send option)` : null],
          ['Reason', m.reason],
          ['Last error', m.lastError ? h('code', {}, m.lastError) : null],
        ]),
      ),
    ),
    h(
      'section',
      { class: 'panel' },
      h('h2', {}, 'Recipients'),
      table(
        ['Address', 'Status', 'Reply'],
        m.recipientStatus.map((r) => [
          r.address,
          h('span', { class: `badge ${r.status}` }, r.status),
          r.reply ? h('code', {}, r.reply) : '—',
        ]),
      ),
    ),
    h(
      'section',
      { class: 'panel' },
      h('h2', {}, 'Attempts'),
      m.attemptLog.length === 0
        ? h('p', { class: 'muted' }, 'No attempt yet.')
        : table(
            ['Started', 'Outcome', 'Took', 'Upstream', 'Worker', 'Replies'],
            m.attemptLog.map((a) => [
              dateTime(a.startedAt),
              h('span', { class: `badge ${a.outcome}` }, a.outcome),
              `${a.durationMs} ms`,
              a.upstream ?? '—',
              h('code', {}, a.worker),
              h(
                'div',
                {},
                a.error ? h('div', {}, h('code', {}, a.error)) : null,
                a.recipients.map((r) =>
                  h('div', {}, `${r.address}: `, h('code', {}, r.reply ?? r.status)),
                ),
              ),
            ]),
            'attempts',
          ),
    ),
    bodyView(m),
  )
}
