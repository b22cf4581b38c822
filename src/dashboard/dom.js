// Building DOM nodes from data with textContent only: nothing from a message is ever parsed as HTML.

/** h('a', { href: '#/x', class: 'y' }, 'text', child, …) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue
    if (name.startsWith('on') && typeof value === 'function')
      el.addEventListener(name.slice(2), value)
    else if (name === 'dataset') Object.assign(el.dataset, value)
    else el.setAttribute(name, value === true ? '' : String(value))
  }
  append(el, children)
  return el
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue
    if (Array.isArray(child)) append(el, child)
    else el.append(child instanceof Node ? child : String(child))
  }
}

export function clear(el, ...children) {
  el.replaceChildren()
  append(el, children)
  return el
}

let toastTimer = null
/** A short message at the bottom of the screen, read out by screen readers. */
export function toast(text, kind = 'info') {
  const el = document.getElementById('toast')
  el.textContent = text
  el.className = `show ${kind}`
  clearTimeout(toastTimer)
  toastTimer = setTimeout(() => (el.className = ''), 4000)
}
