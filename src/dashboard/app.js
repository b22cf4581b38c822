// The dashboard's entry: sign-in, the hash router (#/, #/messages?…, #/messages/ID,
// #/suppressions?…, #/templates, #/templates/NAME?language=&version=, #/webhooks) and live refresh (server-sent events from the durable event
// log, which every process writes to, and a slow timer as a fallback).
import { api } from './api.js'
import { h, clear, toast } from './dom.js'
import { renderMessage } from './message.js'
import { renderMessages } from './messages.js'
import { renderOverview } from './overview.js'
import { renderSuppressions } from './suppressions.js'
import { renderTemplate, renderTemplates } from './templates.js'
import { renderWebhooks } from './webhooks.js'

const main = document.getElementById('main')
/** The fallback timer: this often while the live stream is down (a proxy that drops it)… */
const REFRESH_MS = 10_000
/** …and only this often while it is up (relative times, and anything it could not see). */
const LIVE_REFRESH_MS = 60_000
let current = null
let streamUp = false
let shownAt = 0

function route() {
  const [path, query = ''] = location.hash.replace(/^#/, '').split('?')
  const params = new URLSearchParams(query)
  const parts = (path || '/').split('/').filter(Boolean)
  if (parts.length === 0)
    return { name: 'overview', render: () => renderOverview(main), live: true }
  if (parts[0] === 'messages' && parts.length === 1)
    return {
      name: 'messages',
      render: () => renderMessages(main, params),
      live: !params.get('cursor'),
    }
  if (parts[0] === 'messages' && parts.length === 2)
    return {
      name: 'messages',
      render: () => renderMessage(main, decodeURIComponent(parts[1])),
      live: false,
    }
  if (parts[0] === 'suppressions' && parts.length === 1)
    return {
      name: 'suppressions',
      render: () => renderSuppressions(main, params),
      live: false,
    }
  if (parts[0] === 'templates' && parts.length === 1)
    return { name: 'templates', render: () => renderTemplates(main), live: false }
  if (parts[0] === 'templates' && parts.length === 2)
    // Not live: the page holds what is being typed (a sample context, an edit).
    return {
      name: 'templates',
      render: () => renderTemplate(main, decodeURIComponent(parts[1]), params),
      live: false,
    }
  if (parts[0] === 'webhooks' && parts.length === 1)
    // An endpoint's state changes without an event in the log (a failed attempt, a give-up).
    return {
      name: 'webhooks',
      render: () => renderWebhooks(main),
      live: true,
      refreshMs: REFRESH_MS,
    }
  return {
    name: 'none',
    render: async () =>
      clear(main, h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/' }, 'Overview'))),
    live: false,
  }
}

/** Renders started, and the newest one that finished: an older one must not stay on screen. */
let navigation = 0
let shown = 0

async function show(focus) {
  const mine = ++navigation
  current = route()
  for (const link of document.querySelectorAll('[data-nav]')) {
    if (link.dataset.nav === current.name) link.setAttribute('aria-current', 'page')
    else link.removeAttribute('aria-current')
  }
  try {
    await current.render()
    shownAt = Date.now()
    if (mine !== navigation) {
      // A later page was asked for while this one loaded (a click away from a slow page). If
      // it is already shown, this render just drew over it: draw the current page again.
      if (shown === navigation) await show(focus)
      return
    }
    shown = mine
    if (focus) main.focus({ preventScroll: true })
  } catch (error) {
    if (error.status !== 401 && mine === navigation)
      clear(main, h('h1', {}, 'Something went wrong'), h('p', { class: 'error' }, error.message))
  }
}

/** Refreshes the page in place, unless the user is typing in it or has rows selected. */
async function refresh() {
  if (!current?.live || document.hidden) return
  const active = document.activeElement
  if (active && main.contains(active) && ['INPUT', 'SELECT', 'TEXTAREA'].includes(active.tagName))
    return
  if (main.querySelector('tbody input[type=checkbox]:checked')) return
  await show(false)
}

function signInForm() {
  const input = h('input', {
    type: 'password',
    name: 'token',
    autocomplete: 'current-password',
    required: true,
    id: 'token',
  })
  const form = h(
    'form',
    { class: 'panel signin' },
    h('h1', {}, 'Sign in'),
    h('p', {}, 'Enter the admin token (OUTBOX_ADMIN_TOKEN) of this Outbox.'),
    h('label', { for: 'token' }, 'Admin token'),
    input,
    h('button', { type: 'submit' }, 'Sign in'),
  )
  form.addEventListener('submit', async (e) => {
    e.preventDefault()
    try {
      await api.signIn(input.value)
      start()
    } catch (error) {
      toast(error.message, 'error')
      input.select()
    }
  })
  clear(main, form)
  input.focus()
}

let started = false
async function start() {
  const session = await api.session()
  if (session.authRequired && !session.authenticated) return signInForm()
  const signOut = document.getElementById('signout')
  signOut.hidden = !session.authRequired
  signOut.onclick = async () => {
    await api.signOut()
    location.reload()
  }
  await show(false)
  if (started) return
  started = true
  window.addEventListener('hashchange', () => show(true))
  setInterval(() => {
    const every = streamUp ? (current?.refreshMs ?? LIVE_REFRESH_MS) : REFRESH_MS
    // Half a tick of slack: a page drawn just after the last tick is due at this one.
    if (Date.now() - shownAt >= every - REFRESH_MS / 2) void refresh()
  }, REFRESH_MS)
  const live = document.getElementById('live')
  const events = new EventSource('/api/events')
  events.addEventListener('change', refresh)
  let lost = false
  events.onopen = () => {
    streamUp = true
    live.classList.add('on')
    live.title = 'Live updates: connected'
    // What changed while the stream was down was not announced.
    if (lost) void refresh()
    lost = false
  }
  events.onerror = () => {
    streamUp = false
    lost = true
    live.classList.remove('on')
    live.title = 'Live updates: reconnecting'
  }
  document.addEventListener('keydown', (e) => {
    if (
      e.key === '/' &&
      !['INPUT', 'SELECT', 'TEXTAREA'].includes(document.activeElement?.tagName)
    ) {
      const search = document.getElementById('search')
      if (search) {
        e.preventDefault()
        search.focus()
      } else location.hash = '#/messages'
    }
  })
}

window.addEventListener('outbox:unauthorized', signInForm)
start().catch((error) =>
  clear(main, h('h1', {}, 'Cannot reach Outbox'), h('p', { class: 'error' }, error.message)),
)
