import { describe, expect, it } from 'vitest'

import { TemplateRenderError } from '../errors.js'
import { compileTemplate, renderTemplate } from './template-engine.js'

/** Renders `text` as a text-only template in `language`. */
function text(language: string, source: string, context: Record<string, unknown> = {}): string {
  const compiled = compileTemplate({ name: 't', language, subject: 's', html: null, text: source })
  return renderTemplate(compiled, context).text
}

function failure(language: string, source: string, context: Record<string, unknown> = {}): Error {
  try {
    text(language, source, context)
  } catch (error) {
    expect(error).toBeInstanceOf(TemplateRenderError)
    expect((error as TemplateRenderError).field).toBe('text')
    return error as Error
  }
  throw new Error('expected a render error')
}

const instant = '2024-03-05T23:30:00Z'

describe('format_date', () => {
  it('takes a Date, an ISO string or milliseconds, in UTC by default', () => {
    const context = { d: new Date(instant), s: instant, ms: Date.parse(instant) }
    expect(
      text('en', '{{ d | format_date }}|{{ s | format_date }}|{{ ms | format_date }}', context),
    ).toBe('Mar 5, 2024|Mar 5, 2024|Mar 5, 2024')
  })

  it('writes each style in the language', () => {
    const source =
      "{{ s | format_date: 'short' }}|{{ s | format_date: 'long' }}|{{ s | format_date: 'full' }}"
    expect(text('en', source, { s: instant })).toBe('3/5/24|March 5, 2024|Tuesday, March 5, 2024')
    expect(text('de', source, { s: instant })).toBe('05.03.24|5. März 2024|Dienstag, 5. März 2024')
    expect(text('fr', source, { s: instant })).toBe('05/03/2024|5 mars 2024|mardi 5 mars 2024')
  })

  it('takes a time zone as its second argument', () => {
    // 23:30 UTC is already the next day in Berlin.
    expect(text('de', "{{ s | format_date: 'long', 'Europe/Berlin' }}", { s: instant })).toBe(
      '6. März 2024',
    )
    expect(text('de', "{{ s | format_datetime: 'short', 'Europe/Berlin' }}", { s: instant })).toBe(
      '06.03.24, 00:30',
    )
  })

  it('refuses what is not a date, an unknown style and an unknown time zone', () => {
    expect(failure('en', '{{ s | format_date }}', { s: 'soon' }).message).toMatch(
      /format_date: expected a date .*got `"soon"` \(string\)/,
    )
    expect(failure('en', '{{ s | format_date }}', { s: null }).message).toMatch(/expected a date/)
    expect(failure('en', "{{ s | format_date: 'huge' }}", { s: instant }).message).toMatch(
      /the style must be one of 'short', 'medium', 'long', 'full', got `"huge"`/,
    )
    expect(
      failure('en', "{{ s | format_date: 'long', 'Mars/Olympus' }}", { s: instant }).message,
    ).toMatch(/unknown time zone `"Mars\/Olympus"`/)
  })
})

describe('format_number and format_currency', () => {
  it('use the separators of the language', () => {
    const source =
      "{{ n | format_number }}|{{ n | format_number: 2 }}|{{ n | format_currency: 'EUR' }}"
    expect(text('en', source, { n: 1234.5 })).toBe('1,234.5|1,234.50|€1,234.50')
    expect(text('de', source, { n: 1234.5 })).toBe('1.234,5|1.234,50|1.234,50\u00a0€')
    // The region counts too: Indian English groups by lakh.
    expect(text('en-IN', '{{ n | format_number }}', { n: 1234567.5 })).toBe('12,34,567.5')
  })

  it('take numeric strings, as JSON contexts often carry amounts', () => {
    expect(text('en', "{{ n | format_currency: 'usd' }}", { n: '19.9' })).toBe('$19.90')
  })

  it('refuse what is not a number or a currency code', () => {
    expect(failure('en', '{{ n | format_number }}', { n: 'many' }).message).toMatch(
      /format_number: expected a number, got `"many"`/,
    )
    expect(failure('en', '{{ n | format_number: 1.5 }}', { n: 1 }).message).toMatch(
      /whole number from 0 to 20/,
    )
    expect(failure('en', '{{ n | format_currency }}', { n: 1 }).message).toMatch(/ISO 4217 code/)
    expect(failure('en', "{{ n | format_currency: 'euro' }}", { n: 1 }).message).toMatch(
      /ISO 4217 code/,
    )
  })
})
