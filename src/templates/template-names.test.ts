import { describe, expect, it } from 'vitest'

import { InvalidMessageError } from '../errors.js'
import { checkTemplateName, normaliseLanguage } from './template-names.js'

describe('checkTemplateName', () => {
  it.each(['welcome', 'order-shipped', 'order.shipped', 'v2_reset', '9lives', 'a'.repeat(100)])(
    'accepts %s',
    (name) => {
      expect(checkTemplateName(name)).toBe(name)
    },
  )

  it.each([
    ['', 'empty'],
    ['-welcome', 'starts with a dash'],
    ['.hidden', 'starts with a dot'],
    ['welcome.', 'ends with a dot'],
    ['mail/welcome', 'has a slash'],
    ['../etc', 'climbs folders'],
    ['wel come', 'has a space'],
    ['a'.repeat(101), 'is too long'],
  ])('refuses %j (%s), naming the field', (name) => {
    expect(() => checkTemplateName(name)).toThrow(InvalidMessageError)
    try {
      checkTemplateName(name, 'template')
    } catch (error) {
      expect((error as InvalidMessageError).field).toBe('template')
      expect((error as Error).message).toContain(JSON.stringify(name).slice(0, 20))
    }
  })

  it('refuses what is not a string', () => {
    expect(() => checkTemplateName(42)).toThrow(/got `42` \(number\)/)
  })
})

describe('normaliseLanguage', () => {
  it.each([
    ['en', 'en'],
    ['DE', 'de'],
    ['de-AT', 'de-AT'],
    ['de_AT', 'de-AT'],
    ['de-at', 'de-AT'],
    ['zh-hant-tw', 'zh-Hant-TW'],
    ['es-419', 'es-419'],
    ['gsw', 'gsw'],
    ['sl-rozaj', 'sl-rozaj'],
  ])('%s → %s', (given, normal) => {
    expect(normaliseLanguage(given)).toBe(normal)
  })

  it.each([
    '',
    'e',
    'english',
    'de-',
    'de--AT',
    'de AT',
    'de-AT-',
    '1de',
    'de-a',
    'de-toolongsubtag',
  ])('refuses %j, naming the field', (tag) => {
    let caught: unknown
    try {
      normaliseLanguage(tag, 'templates.defaultLanguage')
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(InvalidMessageError)
    expect((caught as InvalidMessageError).field).toBe('templates.defaultLanguage')
    expect((caught as Error).message).toMatch(/language tag such as `en`/)
  })

  it('refuses a tag Intl cannot use', () => {
    // Well-formed to the pattern, but a region cannot follow a variant.
    expect(() => normaliseLanguage('de-1901-AT-AT')).toThrow(InvalidMessageError)
  })

  it('refuses what is not a string', () => {
    expect(() => normaliseLanguage(null)).toThrow(/got `null` \(null\)/)
  })
})
