// How times, sizes and statuses are written on the page.

export function ago(value, now = Date.now()) {
  if (!value) return '—'
  const seconds = Math.round((now - new Date(value).getTime()) / 1000)
  const future = seconds < 0
  const s = Math.abs(seconds)
  const text =
    s < 60
      ? `${s}s`
      : s < 3600
        ? `${Math.round(s / 60)}m`
        : s < 86400
          ? `${Math.round(s / 3600)}h`
          : `${Math.round(s / 86400)}d`
  return future ? `in ${text}` : `${text} ago`
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return '—'
  if (seconds < 60) return `${seconds}s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${seconds % 60}s`
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`
  return `${Math.floor(seconds / 86400)}d ${Math.floor((seconds % 86400) / 3600)}h`
}

export function dateTime(value) {
  if (!value) return '—'
  const d = new Date(value)
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' })
}

export function bytes(n) {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`
  return `${(n / 1024 / 1024).toFixed(1)} MB`
}

export const STATUSES = ['queued', 'sending', 'deferred', 'held', 'sent', 'failed']
