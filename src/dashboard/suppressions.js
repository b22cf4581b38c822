// The suppression list: addresses never sent to. Search as you type (kept in the URL,
// #/suppressions?search=…), keyset paging, add, and remove with a confirmation.
import { api } from './api.js'
import { h, clear, toast } from './dom.js'
import { ago, dateTime } from './format.js'

const SEARCH_DELAY_MS = 250

function suppressionTable(entries, onRemove) {
  const head = h(
    'tr',
    {},
    ['Address', 'Reason', 'Reply or note', 'Message', 'Added', ''].map((t) =>
      h('th', { scope: 'col' }, t),
    ),
  )
  const rows = entries.map((s) =>
    h(
      'tr',
      { dataset: { address: s.address } },
      h('td', { class: 'clip address' }, s.address),
      h(
        'td',
        {},
        h('span', { class: `badge ${s.reason === 'manual' ? 'held' : 'error'}` }, s.reason),
      ),
      h('td', { class: 'clip', title: s.reply ?? '' }, s.reply ?? '—'),
      h(
        'td',
        {},
        s.messageId
          ? h('a', { href: `#/messages/${encodeURIComponent(s.messageId)}` }, s.messageId)
          : '—',
      ),
      h('td', { title: dateTime(s.createdAt) }, ago(s.createdAt)),
      h(
        'td',
        {},
        h(
          'button',
          {
            type: 'button',
            class: 'danger small',
            'aria-label': `Remove ${s.address}`,
            onclick: () => onRemove(s.address),
          },
          'Remove',
        ),
      ),
    ),
  )
  return h(
    'div',
    { class: 'table-wrap' },
    h('table', { class: 'suppressions' }, h('thead', {}, head), h('tbody', {}, rows)),
  )
}

function addForm(onAdded) {
  const addresses = h('input', {
    id: 'suppress-addresses',
    name: 'addresses',
    required: true,
    autocomplete: 'off',
    placeholder: 'address@example.com, another@example.org',
  })
  const note = h('input', { id: 'suppress-note', name: 'note', maxlength: 1000 })
  const form = h(
    'form',
    { class: 'filters', 'aria-label': 'Suppress addresses' },
    h('label', { class: 'grow' }, h('span', {}, 'Addresses to suppress'), addresses),
    h('label', {}, h('span', {}, 'Note'), note),
    h('div', { class: 'form-buttons' }, h('button', { type: 'submit' }, 'Add')),
  )
  form.addEventListener('submit', async (e) => {
    e.preventDefault()
    const list = addresses.value.split(/[\s,;]+/).filter(Boolean)
    if (list.length === 0) return
    try {
      const result = await api.suppress({
        addresses: list,
        ...(note.value.trim() ? { reply: note.value.trim() } : {}),
      })
      addresses.removeAttribute('aria-invalid')
      addresses.value = ''
      note.value = ''
      toast(
        `Added ${result.added.length}${result.existing.length ? `, ${result.existing.length} already on the list` : ''}`,
      )
      await onAdded()
    } catch (error) {
      addresses.setAttribute('aria-invalid', 'true')
      toast(error.message, 'error')
    }
  })
  return form
}

export async function renderSuppressions(main, params) {
  let search = params.get('search') ?? ''
  const cursor = params.get('cursor')
  const list = h('div', { id: 'suppression-list', 'aria-live': 'polite' })
  const count = h('p', { class: 'muted', id: 'suppression-count' })
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' })
  let latest = 0

  const hashFor = (extra = {}) => {
    const q = new URLSearchParams()
    if (search) q.set('search', search)
    for (const [k, v] of Object.entries(extra)) q.set(k, v)
    const text = q.toString()
    return `#/suppressions${text ? `?${text}` : ''}`
  }

  async function remove(address) {
    if (!confirm(`Remove ${address} from the suppression list? Mail to it will be sent again.`))
      return
    try {
      await api.unsuppress(address)
      toast(`Removed ${address}`)
      await load(cursor)
    } catch (error) {
      toast(error.message, 'error')
    }
  }

  /** Loads a page; an answer that arrives after a newer request was made is dropped. */
  async function load(from) {
    const mine = ++latest
    const page = await api.suppressions({ search, limit: 50, cursor: from })
    if (mine !== latest) return
    count.textContent = search
      ? `${page.total} suppressed address${page.total === 1 ? '' : 'es'} containing “${search}”`
      : `${page.total} suppressed address${page.total === 1 ? '' : 'es'}`
    clear(
      list,
      page.entries.length === 0
        ? h(
            'p',
            { class: 'muted empty' },
            search ? 'No suppressed address matches.' : 'The suppression list is empty.',
          )
        : suppressionTable(page.entries, remove),
    )
    clear(
      pager,
      from ? h('a', { href: hashFor() }, '← First page') : null,
      page.nextCursor
        ? h('a', { href: hashFor({ cursor: page.nextCursor }), id: 'next-page' }, 'Next page →')
        : null,
    )
  }

  const searchInput = h('input', {
    id: 'search',
    name: 'search',
    type: 'search',
    value: search,
    autocomplete: 'off',
    placeholder: 'part of an address, or @domain  ( / )',
  })
  let timer = null
  searchInput.addEventListener('input', () => {
    clearTimeout(timer)
    timer = setTimeout(async () => {
      search = searchInput.value.trim()
      // The URL follows the search without a navigation (which would re-render and lose focus).
      history.replaceState(null, '', hashFor())
      try {
        await load(null)
      } catch (error) {
        toast(error.message, 'error')
      }
    }, SEARCH_DELAY_MS)
  })
  const searchForm = h(
    'form',
    { class: 'filters', role: 'search' },
    h('label', { class: 'grow' }, h('span', {}, 'Search'), searchInput),
  )
  searchForm.addEventListener('submit', (e) => e.preventDefault())

  await load(cursor)
  clear(
    main,
    h('h1', {}, 'Suppressions'),
    h(
      'p',
      { class: 'muted' },
      'Mail to these addresses fails at once as suppressed, without contacting the upstream ' +
        '(unless sent with ignoreSuppression).',
    ),
    addForm(() => load(cursor)),
    searchForm,
    count,
    list,
    pager,
  )
}
