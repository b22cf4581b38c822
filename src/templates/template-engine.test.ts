import { describe, expect, it } from 'vitest'

import {
  ErrorCodes,
  InvalidMessageError,
  TemplateRenderError,
  TemplateSyntaxError,
} from '../errors.js'
import type { StoredTemplate } from '../store/store.js'
import {
  checkTemplate,
  compileTemplate,
  createTemplateCache,
  listTemplateProblems,
  renderTemplate,
  templateCacheKey,
  type TemplateSource,
} from './template-engine.js'

function source(parts: Partial<TemplateSource>): TemplateSource {
  return { name: 'welcome', language: 'en', subject: 'Hello', html: null, text: null, ...parts }
}

function render(parts: Partial<TemplateSource>, context: unknown = {}, inlineCss = false) {
  return renderTemplate(compileTemplate(source(parts)), context, { inlineCss })
}

/** The error `run` throws (failing the test when it throws none). */
function caught(run: () => unknown): Error {
  try {
    run()
  } catch (error) {
    return error as Error
  }
  throw new Error('expected an error, none was thrown')
}

describe('rendering', () => {
  it('renders subject, HTML and text with the context', () => {
    const out = render(
      {
        subject: 'Welcome, {{ user.name }}',
        html: '<p>Hi {{ user.name }}</p>',
        text: 'Hi {{ user.name }}',
      },
      { user: { name: 'Ann' } },
    )
    expect(out).toEqual({ subject: 'Welcome, Ann', html: '<p>Hi Ann</p>', text: 'Hi Ann' })
  })

  it('formats dates and numbers in the template language', () => {
    const parts = {
      subject: 'Order of {{ order.date | format_date: "long" }}',
      text: '{{ order.total | format_number }} / {{ order.total | format_currency: "EUR" }}',
    }
    const context = { order: { date: '2024-03-05T10:00:00Z', total: 1234.5 } }
    const en = render({ ...parts, language: 'en' }, context)
    const de = render({ ...parts, language: 'de' }, context)
    expect(en.subject).toBe('Order of March 5, 2024')
    expect(de.subject).toBe('Order of 5. März 2024')
    expect(en.text).toBe('1,234.5 / €1,234.50')
    expect(de.text).toBe('1.234,5 / 1.234,50\u00a0€')
  })

  it('escapes context values in the HTML part, but not in the subject or the text', () => {
    const context = { name: '<script>alert("x")</script> & Co' }
    const out = render(
      { subject: 'For {{ name }}', html: '<p>{{ name }}</p>', text: 'For {{ name }}' },
      context,
    )
    expect(out.html).toBe('<p>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co</p>')
    expect(out.subject).toBe('For <script>alert("x")</script> & Co')
    expect(out.text).toBe('For <script>alert("x")</script> & Co')
  })

  it('outputs trusted HTML with | raw, in output and echo alike', () => {
    const out = render(
      { html: '{{ banner | raw }}|{{ banner }}|{% echo banner %}' },
      { banner: '<b>Sale</b>' },
    )
    expect(out.html).toBe('<b>Sale</b>|&lt;b&gt;Sale&lt;/b&gt;|&lt;b&gt;Sale&lt;/b&gt;')
  })

  it('makes the subject one line: a line break in a value cannot add a header', () => {
    const out = render(
      { subject: 'Hi {{ name }}\n{% if vip %}\r\n\tVIP{% endif %}  ', text: 'x' },
      { name: 'Ann\r\nBcc: victim@example.com', vip: true },
    )
    expect(out.subject).toBe('Hi Ann Bcc: victim@example.com VIP')
    expect(out.subject).not.toMatch(/[\r\n]/)
    const separators = render({ subject: '{{ s }}', text: 'x' }, { s: 'a\u2028b\u0000c\u0085d' })
    expect(separators.subject).toBe('a b c d')
  })

  it('refuses a subject that renders empty', () => {
    const error = caught(() => render({ subject: '{{ title }}', text: 'x' }, { title: ' \n ' }))
    expect(error).toBeInstanceOf(TemplateRenderError)
    expect((error as TemplateRenderError).field).toBe('subject')
  })

  it('names a missing variable by its path, as a field of the context', () => {
    const error = caught(() =>
      render(
        { language: 'de', subject: 'Hi', html: '<p>\n  {{ user.name }}</p>' },
        { user: { email: 'ann@example.com' } },
      ),
    )
    expect(error).toBeInstanceOf(TemplateRenderError)
    expect((error as TemplateRenderError).code).toBe(ErrorCodes.TEMPLATE_RENDER)
    expect((error as TemplateRenderError).field).toBe('context.user.name')
    expect(error.message).toBe(
      'Template "welcome" (de), html part at line 2, column 6: `user.name` is not in the ' +
        "context. Pass it in the context, or make it optional in the template: {% if user.name %}…{% endif %} or {{ user.name | default: '' }}.",
    )
    const top = caught(() => render({ subject: '{{ greeting }}', text: 'x' }))
    expect((top as TemplateRenderError).field).toBe('context.greeting')
  })

  it('lets a template ask for an optional variable with if or default', () => {
    const out = render({
      subject: 'Hi{% if coupon %} {{ coupon }}{% endif %}',
      text: "{{ coupon | default: 'no coupon' }}",
    })
    expect(out).toMatchObject({ subject: 'Hi', text: 'no coupon' })
  })

  it('shows only the context’s own properties', () => {
    const error = caught(() =>
      render({ subject: 'x', text: '{{ user.constructor.name }}' }, { user: {} }),
    )
    expect((error as TemplateRenderError).field).toBe('context.user.constructor')
    const proto = caught(() => render({ subject: 'x', text: '{{ user.toString }}' }, { user: {} }))
    expect((proto as TemplateRenderError).field).toBe('context.user.toString')
  })

  it('refuses a context that is not a plain object', () => {
    const compiled = compileTemplate(source({ text: 'x' }))
    for (const context of [null, undefined, 'Ann', 42, ['a'], new Date(), new Map()]) {
      const error = caught(() => renderTemplate(compiled, context))
      expect(error).toBeInstanceOf(InvalidMessageError)
      expect((error as InvalidMessageError).field).toBe('context')
    }
    expect(renderTemplate(compiled, Object.create(null)).text).toBe('x')
  })

  it('reports a filter that fails on its input as a render error of the part', () => {
    const error = caught(() =>
      render({ subject: 'x', text: 'Due {{ due | format_date }}' }, { due: 'next week' }),
    )
    expect(error).toBeInstanceOf(TemplateRenderError)
    expect((error as TemplateRenderError).field).toBe('text')
    expect(error.message).toMatch(
      /^Template "welcome" \(en\), text part at line 1, column 5: format_date: expected a date/,
    )
  })

  it('makes the text part from the HTML when the template has none', () => {
    const out = render(
      {
        html:
          '<html><head><title>Ignored</title><style>p { color: red }</style></head><body>' +
          '<h1>Your order</h1><p>Track it <a href="https://example.com/t/1">here</a> or at ' +
          '<a href="https://example.com">https://example.com</a>.</p>' +
          '<img src="https://example.com/logo.png" alt="Example Shop"><img src="/spacer.gif">' +
          '<table><tr><td>Total</td><td>{{ total }}</td></tr><tr><td></td></tr></table>' +
          `<p>${'word '.repeat(30)}</p></body></html>`,
      },
      { total: '12 EUR' },
    )
    expect(out.text).toContain('Your order')
    expect(out.text).toContain('\nTotal 12 EUR\n')
    expect(out.text).not.toMatch(/ \n|\n\n\n/)
    expect(out.text).toContain('Track it here [https://example.com/t/1] or at https://example.com.')
    expect(out.text).not.toContain('[https://example.com]')
    expect(out.text).toContain('Example Shop')
    expect(out.text).not.toMatch(/logo\.png|spacer|Ignored|color/)
    for (const line of out.text.split('\n')) expect(line.length).toBeLessThanOrEqual(78)
  })

  it('inlines the CSS of <style> elements when asked, fetching nothing', () => {
    const html =
      '<html><head><link rel="stylesheet" href="https://example.invalid/x.css">' +
      '<style>p { color: red } @media (max-width: 600px) { p { color: blue } }</style></head>' +
      '<body><p>Hi</p></body></html>'
    const plain = render({ html }).html!
    expect(plain).toContain('<style>')
    expect(plain).toContain('<p>Hi</p>')
    const inlined = render({ html }, {}, true).html!
    expect(inlined).toContain('<p style="color: red;">Hi</p>')
    expect(inlined).toContain('@media (max-width: 600px)')
    expect(inlined).toContain('https://example.invalid/x.css')
  })

  it('leaves the HTML null for a text-only template', () => {
    expect(render({ text: 'Plain {{ x }}' }, { x: '<b>' })).toEqual({
      subject: 'Hello',
      html: null,
      text: 'Plain <b>',
    })
  })
})

describe('safety', () => {
  it.each(['include', 'render', 'layout'])(
    'refuses {%% %s %%}: a template cannot read files',
    (tag) => {
      const error = caught(() =>
        compileTemplate(source({ html: `<p>\n{% ${tag} '/etc/passwd' %}</p>` })),
      )
      expect(error).toBeInstanceOf(TemplateSyntaxError)
      expect(error).toMatchObject({ field: 'html', line: 2, column: 1 })
      expect(error.message).toContain(
        `{% ${tag} %} is not available: a template cannot read other files`,
      )
      expect(error.message).not.toContain('root:')
    },
  )

  it('stops a loop that allocates too much', () => {
    const error = caught(() =>
      render({ subject: 'x', text: '{% for i in (1..100000000) %}{{ i }}{% endfor %}' }),
    )
    expect(error).toBeInstanceOf(TemplateRenderError)
    expect((error as TemplateRenderError).field).toBe('text')
    expect(error.message).toMatch(/memory alloc limit exceeded: one rendering may take 1000 ms/)
  })

  it('draws on one budget for all parts of a rendering', () => {
    // Escaping counts against the memory limit: 6 million characters fit once, not twice.
    const big = 'x'.repeat(6_000_000)
    expect(render({ html: '{{ big }}' }, { big }).html).toHaveLength(6_000_000)
    const error = caught(() => render({ html: '{{ big }}', text: '{{ big | escape }}' }, { big }))
    expect(error).toBeInstanceOf(TemplateRenderError)
    expect((error as TemplateRenderError).field).toBe('text')
    expect(error.message).toMatch(/memory alloc limit exceeded/)
  })

  it('stops a loop that runs too long', () => {
    // 9 million iterations that allocate little: only the time limit can stop them.
    const loop =
      '{% for a in (1..3000) %}{% for b in (1..3000) %}{% assign c = b %}{% endfor %}{% endfor %}'
    const error = caught(() => render({ subject: 'x', html: 'ok', text: loop }))
    expect(error).toBeInstanceOf(TemplateRenderError)
    expect(error.message).toMatch(/template render limit exceeded/)
    expect(error.message).toMatch(/1000 ms of CPU/)
  })

  it('does not count time the process spent not running', () => {
    // A getter that blocks the thread for 1.2 s without using the CPU, as a busy machine does
    // when it runs other processes: the limit counts CPU time, so the rendering goes on.
    const sleeper = new Int32Array(new SharedArrayBuffer(4))
    const context = {
      get paused() {
        Atomics.wait(sleeper, 0, 0, 1200)
        return 'late'
      },
      name: 'Ann',
    }
    expect(render({ text: '{{ paused }}, {{ name }}, {{ name }}' }, context).text).toBe(
      'late, Ann, Ann',
    )
  })

  it('refuses an unknown filter when the template is parsed', () => {
    const error = caught(() => compileTemplate(source({ text: 'Hi\n{{ name | shout }}' })))
    expect(error).toBeInstanceOf(TemplateSyntaxError)
    expect(error).toMatchObject({ field: 'text', line: 2, column: 1 })
    expect(error.message).toContain('undefined filter: shout')
  })
})

describe('compileTemplate', () => {
  it('reports a syntax error with its part, line and column', () => {
    const error = caught(() =>
      compileTemplate(
        source({ language: 'de', html: '<p>Hallo</p>\n<p>\n{% if user.vip %}VIP</p>' }),
      ),
    )
    expect(error).toBeInstanceOf(TemplateSyntaxError)
    expect((error as TemplateSyntaxError).code).toBe(ErrorCodes.TEMPLATE_SYNTAX)
    expect(error).toMatchObject({ field: 'html', line: 3, column: 1 })
    expect(error.message).toBe(
      'Template "welcome" (de): the html part does not parse at line 3, column 1: ' +
        'tag {% if user.vip %} not closed.',
    )
    const subject = caught(() => compileTemplate(source({ subject: 'Hi {{ name', text: 'x' })))
    expect(subject).toMatchObject({ field: 'subject', line: 1, column: 4 })
  })

  it('keeps the stored version and normalises the language', () => {
    const stored: StoredTemplate = {
      ...source({ language: 'de_AT', text: 'x' }),
      version: 3,
      createdAt: new Date('2024-01-01T00:00:00Z'),
    }
    const compiled = compileTemplate(stored)
    expect(compiled).toMatchObject({ name: 'welcome', language: 'de-AT', version: 3 })
    expect(compiled.createdAt).toEqual(stored.createdAt)
    expect(Object.isFrozen(compiled)).toBe(true)
    expect(compileTemplate(source({ text: 'x' }))).toMatchObject({ version: null, createdAt: null })
  })

  it('needs an HTML or a text part', () => {
    const error = caught(() => compileTemplate(source({ html: ' ', text: null })))
    expect(error).toBeInstanceOf(InvalidMessageError)
    expect((error as InvalidMessageError).field).toBe('html')
  })

  it('refuses what renderTemplate was not given by compileTemplate', () => {
    const fake = { ...compileTemplate(source({ text: 'x' })) }
    expect(() => renderTemplate(fake, {})).toThrow(/Not a compiled template/)
  })
})

describe('checkTemplate', () => {
  it('returns the content to store, a blank part as null', () => {
    expect(checkTemplate({ subject: 'Hi {{ name }}', html: '<p>x</p>', text: '  \n' })).toEqual({
      subject: 'Hi {{ name }}',
      html: '<p>x</p>',
      text: null,
    })
  })

  it('lists every problem, each naming its field', () => {
    const problems = listTemplateProblems(
      { subject: '{% if x %}', html: '{{ a', text: 'fine {% endif %}' },
      { name: 'welcome', language: 'en' },
    )
    expect(problems.map((p) => [p.field, p instanceof TemplateSyntaxError])).toEqual([
      ['subject', true],
      ['html', true],
      ['text', true],
    ])
    expect(problems[1]!.message).toBe(
      'Template "welcome" (en): the html part does not parse at line 1, column 1: output "{{ a" not closed.',
    )
  })

  it.each([
    [
      'an empty subject',
      { subject: '', html: 'x', text: null },
      'subject',
      /the subject is empty/i,
    ],
    [
      'a blank subject',
      { subject: '  ', html: 'x', text: null },
      'subject',
      /the subject is empty/i,
    ],
    [
      'a long subject',
      { subject: 'x'.repeat(999), html: 'x', text: null },
      'subject',
      /999 characters long; it may be 998/,
    ],
    [
      'no body',
      { subject: 'Hi', html: null, text: null },
      'html',
      /neither an HTML nor a text part/,
    ],
    [
      'a blank body',
      { subject: 'Hi', html: '', text: '\n' },
      'html',
      /neither an HTML nor a text part/,
    ],
    [
      'a large part',
      { subject: 'Hi', html: 'x'.repeat(1024 * 1024 + 1), text: null },
      'html',
      /1 MiB/,
    ],
    [
      'a text part not a string',
      { subject: 'Hi', html: null, text: 42 },
      'text',
      /must be Liquid source or null, got `42`/,
    ],
    [
      'a subject not a string',
      { subject: 7, html: 'x', text: null },
      'subject',
      /must be Liquid source, got `7`/,
    ],
  ])('refuses %s', (_what, content, field, message) => {
    const error = caught(() => checkTemplate(content as never))
    expect(error).toBeInstanceOf(InvalidMessageError)
    expect((error as InvalidMessageError).field).toBe(field)
    expect(error.message).toMatch(message)
  })

  it('names the template in its messages only when told it', () => {
    const bare = caught(() => checkTemplate({ subject: '', html: 'x', text: null }))
    expect(bare.message).toBe('The subject is empty; every template needs one.')
    const named = caught(() =>
      checkTemplate({ subject: '', html: 'x', text: null }, { name: 'welcome', language: 'de' }),
    )
    expect(named.message).toBe(
      'Template "welcome" (de): the subject is empty; every template needs one.',
    )
  })
})

describe('createTemplateCache', () => {
  it('keeps the most recently used entries', () => {
    const cache = createTemplateCache<number>(2)
    cache.set('a', 1)
    cache.set('b', 2)
    expect(cache.get('a')).toBe(1) // a is now the most recent
    cache.set('c', 3)
    expect(cache.get('b')).toBeUndefined()
    expect([cache.get('a'), cache.get('c'), cache.size]).toEqual([1, 3, 2])
    expect(cache.delete('a')).toBe(true)
    cache.clear()
    expect(cache.size).toBe(0)
  })

  it('caches compiled versions by name, language, version and storing time', () => {
    const cache = createTemplateCache()
    const stored: StoredTemplate = {
      ...source({ text: 'x' }),
      version: 1,
      createdAt: new Date(1_000),
    }
    const compiled = compileTemplate(stored)
    cache.set(templateCacheKey(stored), compiled)
    expect(cache.get(templateCacheKey(compiled))).toBe(compiled)
    // Deleted and added again: version 1 once more, but not the same template.
    expect(cache.get(templateCacheKey({ ...stored, createdAt: new Date(2_000) }))).toBeUndefined()
    expect(templateCacheKey({ name: 'a', language: 'de', version: 2 })).not.toBe(
      templateCacheKey({ name: 'a', language: 'de', version: 3 }),
    )
  })

  it('refuses a size that is not a whole number from 1 up', () => {
    expect(() => createTemplateCache(0)).toThrow(RangeError)
  })
})
