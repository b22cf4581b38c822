// Stored templates: the list (#/templates) and one template (#/templates/NAME?language=&version=):
// its languages and versions, the source of one version (shown as text, never as markup), a
// live preview from a sample context, and an editor that saves a new version. The server
// renders the preview; its HTML is framed as message HTML is: a sandboxed frame (no scripts, no
// same-origin access) loading it from the server under the same CSP (no network, remote images
// only on request). A template's script never runs in the dashboard's origin.
import { api } from './api.js'
import { h, clear, toast } from './dom.js'
import { ago, dateTime } from './format.js'

/** Typing pauses this long before the preview renders again. */
const PREVIEW_DELAY_MS = 300

const templateHash = (name, params = {}) => {
  const q = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) if (value) q.set(key, String(value))
  const text = q.toString()
  return `#/templates/${encodeURIComponent(name)}${text ? `?${text}` : ''}`
}

/** The newest `updatedAt` of a listed template's languages. */
const updatedOf = (t) =>
  t.languages.reduce((latest, l) => (!latest || l.updatedAt > latest ? l.updatedAt : latest), null)

function templateTable(templates) {
  const head = h(
    'tr',
    {},
    ['Name', 'Languages (latest version)', 'Updated'].map((t) => h('th', { scope: 'col' }, t)),
  )
  const rows = templates.map((t) => {
    const updated = updatedOf(t)
    return h(
      'tr',
      { dataset: { template: t.name } },
      h('td', {}, h('a', { href: templateHash(t.name) }, t.name)),
      h(
        'td',
        { class: 'template-languages' },
        t.languages.map((l) =>
          h(
            'a',
            {
              class: 'tag',
              href: templateHash(t.name, { language: l.language }),
              title: `${l.language}, version ${l.version}, stored ${dateTime(l.updatedAt)}`,
            },
            `${l.language} v${l.version}`,
          ),
        ),
      ),
      h('td', { title: dateTime(updated) }, ago(updated)),
    )
  })
  return h(
    'div',
    { class: 'table-wrap' },
    h('table', { class: 'templates' }, h('thead', {}, head), h('tbody', {}, rows)),
  )
}

function newTemplateForm() {
  const name = h('input', {
    id: 'new-template-name',
    name: 'name',
    required: true,
    autocomplete: 'off',
    maxlength: 100,
    pattern: '[A-Za-z0-9][A-Za-z0-9._\\-]*',
    placeholder: 'order-shipped',
  })
  const language = h('input', {
    id: 'new-template-language',
    name: 'language',
    required: true,
    value: 'en',
    size: 6,
    maxlength: 35,
  })
  const form = h(
    'form',
    { class: 'filters', 'aria-label': 'New template' },
    h('label', { class: 'grow' }, h('span', {}, 'New template: name'), name),
    h('label', {}, h('span', {}, 'Language'), language),
    h('div', { class: 'form-buttons' }, h('button', { type: 'submit' }, 'Write it')),
  )
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    location.hash = templateHash(name.value.trim(), { new: language.value.trim() || 'en' })
  })
  return form
}

export async function renderTemplates(main) {
  const { templates } = await api.templates()
  clear(
    main,
    h('h1', {}, 'Templates'),
    h(
      'p',
      { class: 'muted' },
      'Stored templates, each language with every version. Mail sent with a template is ' +
        'rendered once, when queued, and records the version that made it.',
    ),
    templates.length === 0
      ? h(
          'p',
          { class: 'muted empty' },
          'No templates yet. Write one below, or add them with ',
          h('code', {}, 'outbox templates add'),
          ' or ',
          h('code', {}, 'outbox templates sync <folder>'),
          '.',
        )
      : templateTable(templates),
    newTemplateForm(),
  )
}

// ---------------------------------------------------------------------------------------------
// One template

/** A part of a version's source, as text in a <pre>. */
function sourcePart(label, value, none) {
  return [
    h('h3', {}, label),
    value === null
      ? h('p', { class: 'muted' }, none)
      : h('pre', { class: 'template-source', dataset: { part: label.toLowerCase() } }, value),
  ]
}

/** The sample context typed for a template, kept for this tab (across versions and reloads). */
const contextKey = (name) => `outbox.templateContext.${name}`
function savedContext(name) {
  try {
    return sessionStorage.getItem(contextKey(name))
  } catch {
    return null
  }
}
function saveContext(name, text) {
  try {
    sessionStorage.setItem(contextKey(name), text)
  } catch {
    // Storage full or refused: the context is only kept on the page.
  }
}

/** The sample context as an object, or a sentence saying what is wrong with it. */
function parseContext(text) {
  if (text.trim() === '') return { context: {} }
  let value
  try {
    value = JSON.parse(text)
  } catch (error) {
    return { problem: `The sample context is not valid JSON: ${error.message}` }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { problem: 'The sample context must be a JSON object, such as {"name": "Ann"}.' }
  }
  return { context: value }
}

export async function renderTemplate(main, name, params) {
  let detail
  try {
    detail = await api.template(name)
  } catch (error) {
    if (error.status !== 404) throw error
    if (!params.get('new')) {
      clear(
        main,
        h('p', {}, h('a', { href: '#/templates' }, '← Templates')),
        h('h1', {}, name),
        h('p', { class: 'error' }, error.message),
      )
      return
    }
    detail = { name, languages: [] }
  }

  const state = {
    language: null,
    version: null,
    editing: false,
    remoteImages: false,
  }
  const versionsOf = (language) =>
    detail.languages.find((l) => l.language === language)?.versions ?? []
  const selected = () => versionsOf(state.language).find((v) => v.version === state.version)

  function choose(language, version) {
    const lang = detail.languages.find((l) => l.language === language) ?? detail.languages[0]
    state.language = lang?.language ?? null
    const versions = lang?.versions ?? []
    state.version = (versions.find((v) => v.version === version) ?? versions[0])?.version ?? null
  }
  const asked = params.get('version')
  choose(params.get('language'), asked ? Number(asked) : null)

  const root = h('div', { class: 'template-page' })
  const languageTabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Languages' })
  const versionsPanel = h('section', { class: 'panel', 'aria-label': 'Versions' })
  const sourcePanel = h('section', { class: 'panel', id: 'template-source' })

  // The preview: sample context, the error (as text), the rendered subject, HTML and text.
  const contextInput = h('textarea', {
    id: 'sample-context',
    name: 'context',
    rows: 8,
    spellcheck: 'false',
    autocomplete: 'off',
  })
  contextInput.value = savedContext(name) ?? '{}'
  const previewError = h('p', { id: 'preview-error', class: 'error', role: 'alert', hidden: true })
  const previewSubject = h('dd', { id: 'preview-subject' })
  const previewVersion = h('dd', { id: 'preview-version' })
  const frame = h('iframe', {
    id: 'preview-frame',
    class: 'mail-html',
    title: 'Rendered HTML',
    // As message HTML: no scripts, no same-origin access, no forms; the server's CSP adds
    // "no network" and sandboxes the document however it is opened.
    sandbox: 'allow-popups allow-popups-to-escape-sandbox',
    referrerpolicy: 'no-referrer',
  })
  const noHtml = h('p', { class: 'muted', hidden: true }, 'Text only: the template has no HTML.')
  const imagesButton = h(
    'button',
    {
      type: 'button',
      class: 'secondary small',
      onclick: () => {
        state.remoteImages = true
        imagesButton.disabled = true
        imagesButton.textContent = 'Remote images shown'
        if (frame.dataset.preview) frame.src = `${frame.dataset.preview}?images=1`
      },
    },
    'Show remote images',
  )
  const previewText = h('pre', { id: 'preview-text', class: 'mail-text' })
  const htmlPanel = h(
    'div',
    { role: 'tabpanel' },
    h('p', { class: 'muted small' }, 'Remote images are blocked until you ask. ', imagesButton),
    noHtml,
    frame,
  )
  const textPanel = h('div', { role: 'tabpanel', hidden: true }, previewText)
  const htmlTab = h('button', { type: 'button', role: 'tab', 'aria-selected': 'true' }, 'HTML')
  const textTab = h('button', { type: 'button', role: 'tab', 'aria-selected': 'false' }, 'Text')
  const showTab = (html) => {
    htmlPanel.hidden = !html
    textPanel.hidden = html
    htmlTab.setAttribute('aria-selected', String(html))
    textTab.setAttribute('aria-selected', String(!html))
  }
  htmlTab.addEventListener('click', () => showTab(true))
  textTab.addEventListener('click', () => showTab(false))
  const previewOutput = h(
    'div',
    { id: 'preview-output' },
    h('dl', { class: 'facts' }, h('dt', {}, 'Subject'), previewSubject),
    h('dl', { class: 'facts' }, h('dt', {}, 'Rendered from'), previewVersion),
    h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Preview' }, htmlTab, textTab),
    htmlPanel,
    textPanel,
  )
  const previewHeading = h('h2', {}, 'Preview')
  const previewPanel = h(
    'section',
    { class: 'panel', id: 'template-preview' },
    previewHeading,
    h('label', { for: 'sample-context' }, 'Sample context (JSON)'),
    contextInput,
    previewError,
    previewOutput,
  )

  // The editor: shown instead of the source, previewing what is typed before it is saved.
  const editor = {
    language: h('input', { id: 'edit-language', name: 'language', required: true, size: 6 }),
    subject: h('input', { id: 'edit-subject', name: 'subject', required: true }),
    html: h('textarea', { id: 'edit-html', name: 'html', rows: 14, spellcheck: 'false' }),
    text: h('textarea', { id: 'edit-text', name: 'text', rows: 8, spellcheck: 'false' }),
  }
  const editorError = h('p', { id: 'editor-error', class: 'error', role: 'alert', hidden: true })

  let latest = 0
  let timer = null

  function showError(text) {
    previewError.textContent = text
    previewError.hidden = false
    // What is shown below is the last rendering that worked: say so.
    previewOutput.classList.add('stale')
  }

  /** Renders the shown version (or the editor's content) with the sample context. */
  async function preview() {
    const mine = ++latest
    if (!root.isConnected) return
    const parsed = parseContext(contextInput.value)
    if (parsed.problem) contextInput.setAttribute('aria-invalid', 'true')
    else contextInput.removeAttribute('aria-invalid')
    if (parsed.problem) return showError(parsed.problem)
    let body
    if (state.editing) {
      body = {
        language: editor.language.value.trim() || 'en',
        context: parsed.context,
        content: {
          subject: editor.subject.value,
          html: editor.html.value,
          text: editor.text.value,
        },
        preview: true,
      }
    } else if (state.version !== null) {
      body = {
        language: state.language,
        version: state.version,
        context: parsed.context,
        preview: true,
      }
    } else {
      return
    }
    try {
      const r = await api.renderTemplate(name, body)
      if (mine !== latest) return
      previewError.hidden = true
      previewError.textContent = ''
      previewOutput.classList.remove('stale')
      previewSubject.textContent = r.subject
      previewVersion.textContent =
        r.version === 0 ? `unsaved changes (${r.language})` : `version ${r.version} (${r.language})`
      previewText.textContent = r.text
      noHtml.hidden = r.preview !== null
      frame.hidden = r.preview === null
      if (r.preview === null) {
        frame.removeAttribute('src')
        delete frame.dataset.preview
      } else {
        frame.dataset.preview = r.preview
        frame.src = state.remoteImages ? `${r.preview}?images=1` : r.preview
      }
    } catch (error) {
      if (mine !== latest || error.status === 401) return
      // The server's sentence names the variable or the part, and the line and column.
      showError(error.message)
    }
  }

  function schedule(delay = PREVIEW_DELAY_MS) {
    clearTimeout(timer)
    timer = setTimeout(() => void preview(), delay)
  }
  contextInput.addEventListener('input', () => {
    saveContext(name, contextInput.value)
    schedule()
  })
  for (const field of Object.values(editor)) field.addEventListener('input', () => schedule())

  function drawLanguages() {
    clear(
      languageTabs,
      detail.languages.map((l) =>
        h(
          'button',
          {
            type: 'button',
            role: 'tab',
            'aria-selected': String(!state.editing && l.language === state.language),
            dataset: { language: l.language },
            onclick: () => select(l.language, null),
          },
          l.language,
        ),
      ),
    )
    languageTabs.hidden = detail.languages.length === 0
  }

  function drawVersions() {
    const versions = versionsOf(state.language)
    clear(
      versionsPanel,
      h('h2', {}, state.language ? `Versions (${state.language})` : 'Versions'),
      versions.length === 0
        ? h('p', { class: 'muted' }, 'Not saved yet.')
        : h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'template-versions' },
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  ['Version', 'Stored', 'Subject'].map((t) => h('th', { scope: 'col' }, t)),
                ),
              ),
              h(
                'tbody',
                {},
                versions.map((v) =>
                  h(
                    'tr',
                    {
                      dataset: { version: v.version },
                      'aria-current': v.version === state.version && !state.editing ? 'true' : null,
                    },
                    h(
                      'td',
                      {},
                      h(
                        'button',
                        {
                          type: 'button',
                          class: 'version-link',
                          'aria-label': `Show version ${v.version}`,
                          onclick: () => select(state.language, v.version),
                        },
                        `v${v.version}`,
                      ),
                    ),
                    h('td', { title: dateTime(v.createdAt) }, ago(v.createdAt)),
                    h('td', { class: 'clip' }, h('code', {}, v.subject)),
                  ),
                ),
              ),
            ),
          ),
    )
  }

  function drawSource() {
    const v = selected()
    if (state.editing || !v) return drawEditor()
    clear(
      sourcePanel,
      h('h2', {}, `Source of version ${v.version} (${v.language})`),
      h('p', { class: 'muted small' }, `Stored ${dateTime(v.createdAt)} (${ago(v.createdAt)}).`),
      sourcePart('Subject', v.subject, ''),
      sourcePart('HTML', v.html, 'No HTML part: a text-only template.'),
      sourcePart('Text', v.text, 'No text part: it is made from the HTML.'),
      h(
        'div',
        { class: 'toolbar' },
        h('button', { type: 'button', class: 'secondary', onclick: () => edit(v) }, 'Edit'),
        h(
          'button',
          { type: 'button', class: 'danger', onclick: () => remove(v.language) },
          `Delete ${v.language}`,
        ),
      ),
    )
  }

  function drawEditor() {
    const form = h(
      'form',
      { class: 'template-editor', 'aria-label': 'Edit template' },
      h('label', {}, h('span', {}, 'Language'), editor.language),
      h('label', {}, h('span', {}, 'Subject'), editor.subject),
      h('label', {}, h('span', {}, 'HTML'), editor.html),
      h('label', {}, h('span', {}, 'Text (leave empty to make it from the HTML)'), editor.text),
      editorError,
      h(
        'div',
        { class: 'form-buttons' },
        h('button', { type: 'submit' }, 'Save as a new version'),
        detail.languages.length > 0
          ? h('button', { type: 'button', class: 'secondary', onclick: cancel }, 'Cancel')
          : null,
      ),
    )
    form.addEventListener('submit', (e) => {
      e.preventDefault()
      void save()
    })
    clear(
      sourcePanel,
      h('h2', {}, selected() ? `Edit (from version ${state.version})` : 'New template'),
      form,
    )
  }

  function draw() {
    drawLanguages()
    drawVersions()
    drawSource()
    previewHeading.textContent = state.editing ? 'Preview of unsaved changes' : 'Preview'
  }

  function select(language, version) {
    state.editing = false
    choose(language, version)
    history.replaceState(
      null,
      '',
      templateHash(name, { language: state.language, version: state.version }),
    )
    draw()
    schedule(0)
  }

  function edit(v) {
    state.editing = true
    editor.language.value = v?.language ?? params.get('new') ?? 'en'
    editor.subject.value = v?.subject ?? ''
    editor.html.value = v?.html ?? ''
    editor.text.value = v?.text ?? ''
    editorError.hidden = true
    for (const field of Object.values(editor)) field.removeAttribute('aria-invalid')
    draw()
    editor.subject.focus()
    schedule(0)
  }

  function cancel() {
    select(state.language, state.version)
  }

  async function save() {
    for (const field of Object.values(editor)) field.removeAttribute('aria-invalid')
    try {
      const result = await api.putTemplate(name, {
        language: editor.language.value.trim(),
        subject: editor.subject.value,
        html: editor.html.value,
        text: editor.text.value,
      })
      const { language, version } = result.template
      toast(
        result.created
          ? `Saved ${language} version ${version}`
          : `Unchanged: the same as ${language} version ${version}`,
      )
      detail = await api.template(name)
      select(language, version)
    } catch (error) {
      if (error.status === 401) return
      editorError.textContent = error.message
      editorError.hidden = false
      editor[error.field]?.setAttribute('aria-invalid', 'true')
    }
  }

  async function remove(language) {
    const others = detail.languages.length > 1
    const question = others
      ? `Delete ${language} of template ${name}, every version of it? Mail already queued keeps its content.`
      : `Delete template ${name} (its only language, ${language})? Mail already queued keeps its content.`
    if (!confirm(question)) return
    try {
      const { removed } = await api.removeTemplate(name, language)
      toast(`Deleted ${removed} version${removed === 1 ? '' : 's'} of ${name} (${language})`)
      if (!others) {
        location.hash = '#/templates'
        return
      }
      detail = await api.template(name)
      select(null, null)
    } catch (error) {
      toast(error.message, 'error')
    }
  }

  async function removeAll() {
    if (!confirm(`Delete template ${name}, every language and version?`)) return
    try {
      const { removed } = await api.removeTemplate(name)
      toast(`Deleted ${name} (${removed} version${removed === 1 ? '' : 's'})`)
      location.hash = '#/templates'
    } catch (error) {
      toast(error.message, 'error')
    }
  }

  clear(
    root,
    h('p', {}, h('a', { href: '#/templates' }, '← Templates')),
    h(
      'div',
      { class: 'title-row' },
      h('h1', {}, name),
      detail.languages.length > 0
        ? h(
            'button',
            { type: 'button', class: 'danger small', onclick: removeAll },
            'Delete template',
          )
        : null,
    ),
    languageTabs,
    h('div', { class: 'template-layout' }, h('div', {}, versionsPanel, sourcePanel), previewPanel),
  )
  clear(main, root)
  if (detail.languages.length === 0) edit(null)
  else {
    draw()
    await preview()
  }
}
