// The JSON API, as the dashboard calls it. The session cookie authenticates; the browser adds
// Origin to every POST/DELETE, which is what the server's CSRF check reads.

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`)
    this.status = status
    this.code = body?.error?.code
    this.field = body?.error?.field
    this.line = body?.error?.line
    this.column = body?.error?.column
  }
}

async function call(method, path, body) {
  const init = { method, headers: { accept: 'application/json' }, credentials: 'same-origin' }
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json'
    init.body = JSON.stringify(body)
  }
  const res = await fetch(path, init)
  if (res.status === 204) return null
  const data = await res.json().catch(() => null)
  if (!res.ok) {
    const error = new ApiError(res.status, data)
    if (res.status === 401) window.dispatchEvent(new CustomEvent('outbox:unauthorized'))
    throw error
  }
  return data
}

/** `{ status: ['failed'], to: 'x' }` → `status=failed&to=x` (empty values left out). */
export function toQuery(params) {
  const q = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '') continue
    q.set(key, Array.isArray(value) ? value.join(',') : String(value))
  }
  return q.toString()
}

export const api = {
  session: () => call('GET', '/api/session'),
  signIn: (token) => call('POST', '/api/session', { token }),
  signOut: () => call('DELETE', '/api/session'),
  stats: () => call('GET', '/api/stats?hours=3'),
  list: (params) => call('GET', `/api/messages?${toQuery(params)}`),
  message: (id) => call('GET', `/api/messages/${encodeURIComponent(id)}`),
  act: (id, action) =>
    action === 'delete'
      ? call('DELETE', `/api/messages/${encodeURIComponent(id)}`)
      : call('POST', `/api/messages/${encodeURIComponent(id)}/${action}`),
  bulk: (action, selector) => call('POST', `/api/bulk/${action}`, selector),
  suppressions: (params) => call('GET', `/api/suppressions?${toQuery(params)}`),
  suppress: (body) => call('POST', '/api/suppressions', body),
  unsuppress: (address) => call('DELETE', `/api/suppressions/${encodeURIComponent(address)}`),
  templates: () => call('GET', '/api/templates'),
  template: (name) => call('GET', `/api/templates/${encodeURIComponent(name)}`),
  putTemplate: (name, body) => call('PUT', `/api/templates/${encodeURIComponent(name)}`, body),
  removeTemplate: (name, language) =>
    call(
      'DELETE',
      `/api/templates/${encodeURIComponent(name)}${language ? `?${toQuery({ language })}` : ''}`,
    ),
  renderTemplate: (name, body) =>
    call('POST', `/api/templates/${encodeURIComponent(name)}/render`, body),
  webhooks: () => call('GET', '/api/webhooks'),
  retryWebhooks: (names) => call('POST', '/api/webhooks/retry', { names }),
}
