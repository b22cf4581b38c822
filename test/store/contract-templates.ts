import { afterEach, beforeEach, describe, expect } from 'vitest'
import type { Store, TemplateContent } from '../../src/store/store.js'
import { contractTest, newMessage, type StoreContractOptions } from './contract.js'

/**
 * The part of the Store contract that keeps templates: versions per (name, language), numbered
 * 1, 2, … atomically under concurrent writers, listings and removal, and the template a message
 * was made from, recorded at enqueue. Run by {@link runStoreContract} for every backend.
 */
export function runTemplateContract(name: string, options: StoreContractOptions): void {
  const test = contractTest(options)

  describe(`Store contract, templates: ${name}`, () => {
    let store: Store
    const extra: Store[] = []
    beforeEach(async () => {
      store = await options.newStore()
    })
    afterEach(async () => {
      for (const s of extra.splice(0)) await s.close()
      await store.close()
    })

    const content = (subject: string, over: Partial<TemplateContent> = {}): TemplateContent => ({
      subject,
      html: `<p>${subject}</p>`,
      text: subject,
      ...over,
    })

    test('putTemplate numbers versions from 1, and an identical put stores nothing', async () => {
      const first = await store.putTemplate('welcome', 'en', content('Hello {{ name }}'))
      expect(first.created).toBe(true)
      expect(first.template).toMatchObject({
        name: 'welcome',
        language: 'en',
        version: 1,
        subject: 'Hello {{ name }}',
        html: '<p>Hello {{ name }}</p>',
        text: 'Hello {{ name }}',
      })
      expect(first.template.createdAt).toBeInstanceOf(Date)
      expect(Math.abs(first.template.createdAt.getTime() - Date.now())).toBeLessThan(60_000)

      const second = await store.putTemplate('welcome', 'en', content('Hi {{ name }}'))
      expect(second.created).toBe(true)
      expect(second.template.version).toBe(2)

      const same = await store.putTemplate('welcome', 'en', content('Hi {{ name }}'))
      expect(same.created).toBe(false)
      expect(same.template).toEqual(second.template)
      // Back to the first content: a new version, not the old number.
      const back = await store.putTemplate('welcome', 'en', content('Hello {{ name }}'))
      expect(back).toMatchObject({ created: true, template: { version: 3 } })
      expect((await store.templateVersions('welcome')).map((t) => t.version)).toEqual([3, 2, 1])
    })

    test('each language has versions of its own', async () => {
      await store.putTemplate('welcome', 'en', content('Hello'))
      await store.putTemplate('welcome', 'en', content('Hello again'))
      const de = await store.putTemplate('welcome', 'de', content('Hallo'))
      expect(de).toMatchObject({ created: true, template: { language: 'de', version: 1 } })
      // Another template's languages count apart too.
      const other = await store.putTemplate('reset', 'en', content('Reset'))
      expect(other.template.version).toBe(1)
      expect((await store.getTemplate('welcome', 'en'))?.version).toBe(2)
      expect((await store.getTemplate('welcome', 'de'))?.version).toBe(1)
    })

    test('getTemplate returns the latest or a given version, null when there is none', async () => {
      await store.putTemplate('welcome', 'en', content('v1'))
      const v2 = await store.putTemplate('welcome', 'en', content('v2', { text: null }))
      expect(await store.getTemplate('welcome', 'en')).toEqual(v2.template)
      const v1 = await store.getTemplate('welcome', 'en', 1)
      expect(v1).toMatchObject({ version: 1, subject: 'v1', html: '<p>v1</p>', text: 'v1' })
      expect(await store.getTemplate('welcome', 'en', 2)).toEqual(v2.template)
      expect(await store.getTemplate('welcome', 'en', 3)).toBeNull()
      expect(await store.getTemplate('welcome', 'fr')).toBeNull()
      expect(await store.getTemplate('nothing', 'en')).toBeNull()
      expect(await store.getTemplate('nothing', 'en', 1)).toBeNull()
      // Another connection (another process) reads the same templates.
      const other = await options.reopen(store)
      extra.push(other)
      expect(await other.getTemplate('welcome', 'en')).toEqual(v2.template)
    })

    test('templateVersions lists by language, newest version first', async () => {
      await store.putTemplate('welcome', 'fr', content('Bonjour'))
      await store.putTemplate('welcome', 'de', content('Hallo'))
      await store.putTemplate('welcome', 'en', content('Hello'))
      await store.putTemplate('welcome', 'de', content('Hallo 2'))
      await store.putTemplate('welcome', 'en', content('Hello 2'))
      await store.putTemplate('welcome', 'en', content('Hello 3'))
      await store.putTemplate('other', 'en', content('Other'))
      const versions = await store.templateVersions('welcome')
      expect(versions.map((t) => `${t.language}:${t.version}:${t.subject}`)).toEqual([
        'de:2:Hallo 2',
        'de:1:Hallo',
        'en:3:Hello 3',
        'en:2:Hello 2',
        'en:1:Hello',
        'fr:1:Bonjour',
      ])
      expect(versions.every((t) => t.name === 'welcome' && t.createdAt instanceof Date)).toBe(true)
      expect(await store.templateVersions('nothing')).toEqual([])
    })

    test('listTemplates gives each name with its languages, latest version and time', async () => {
      expect(await store.listTemplates()).toEqual([])
      await store.putTemplate('welcome', 'en', content('Hello'))
      await store.putTemplate('welcome', 'en', content('Hello 2'))
      await store.putTemplate('welcome', 'de', content('Hallo'))
      await store.putTemplate('invoice', 'en', content('Invoice'))
      await store.putTemplate('reset', 'fr', content('Réinitialiser'))
      const list = await store.listTemplates()
      expect(list.map((t) => t.name)).toEqual(['invoice', 'reset', 'welcome'])
      const welcome = list.find((t) => t.name === 'welcome')!
      expect(welcome.languages.map((l) => [l.language, l.version])).toEqual([
        ['de', 1],
        ['en', 2],
      ])
      const latestEn = await store.getTemplate('welcome', 'en')
      expect(welcome.languages[1]!.updatedAt).toBeInstanceOf(Date)
      expect(welcome.languages[1]!.updatedAt.getTime()).toBe(latestEn!.createdAt.getTime())
      expect(list[0]).toMatchObject({
        name: 'invoice',
        languages: [{ language: 'en', version: 1 }],
      })
    })

    test('removeTemplate deletes one language or the whole template and counts versions', async () => {
      await store.putTemplate('welcome', 'en', content('Hello'))
      await store.putTemplate('welcome', 'en', content('Hello 2'))
      await store.putTemplate('welcome', 'de', content('Hallo'))
      await store.putTemplate('welcome', 'fr', content('Bonjour'))
      await store.putTemplate('welcome', 'fr', content('Bonjour 2'))
      await store.putTemplate('welcome', 'fr', content('Bonjour 3'))
      await store.putTemplate('reset', 'en', content('Reset'))

      expect(await store.removeTemplate('welcome', 'en')).toBe(2)
      expect(await store.getTemplate('welcome', 'en')).toBeNull()
      expect(await store.getTemplate('welcome', 'en', 1)).toBeNull()
      expect(await store.removeTemplate('welcome', 'en')).toBe(0)
      expect(await store.removeTemplate('welcome', 'it')).toBe(0)
      expect(
        (await store.listTemplates())
          .find((t) => t.name === 'welcome')
          ?.languages.map((l) => l.language),
      ).toEqual(['de', 'fr'])

      expect(await store.removeTemplate('welcome')).toBe(4)
      expect(await store.templateVersions('welcome')).toEqual([])
      expect((await store.listTemplates()).map((t) => t.name)).toEqual(['reset'])
      expect(await store.removeTemplate('welcome')).toBe(0)
      expect(await store.removeTemplate('nothing')).toBe(0)
      // The other template is untouched, and a removed one can be stored again.
      expect((await store.getTemplate('reset', 'en'))?.subject).toBe('Reset')
      const again = await store.putTemplate('welcome', 'en', content('Hello'))
      expect(again.created).toBe(true)
      expect(await store.getTemplate('welcome', 'en')).toEqual(again.template)

      // The last language of a template removed: the template is gone from the listing.
      expect(await store.removeTemplate('reset', 'en')).toBe(1)
      expect((await store.listTemplates()).map((t) => t.name)).toEqual(['welcome'])
    })

    test('concurrent puts of one language each get a version of their own', async () => {
      const other = await options.reopen(store)
      extra.push(other)
      // Half through another connection (another process), all at once.
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          (i % 2 === 0 ? store : other).putTemplate('race', 'en', content(`content ${i}`)),
        ),
      )
      expect(results.every((r) => r.created)).toBe(true)
      expect(results.map((r) => r.template.version).sort((a, b) => a - b)).toEqual([
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
      ])
      const versions = await store.templateVersions('race')
      expect(versions.map((t) => t.version)).toEqual([10, 9, 8, 7, 6, 5, 4, 3, 2, 1])
      for (const r of results) {
        expect(versions.find((t) => t.version === r.template.version)?.subject).toBe(
          r.template.subject,
        )
      }
    })

    test('concurrent identical puts store one version', async () => {
      const other = await options.reopen(store)
      extra.push(other)
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          (i % 2 === 0 ? store : other).putTemplate('same', 'en', content('Same')),
        ),
      )
      expect(results.filter((r) => r.created)).toHaveLength(1)
      expect(new Set(results.map((r) => r.template.version))).toEqual(new Set([1]))
      expect(await store.templateVersions('same')).toHaveLength(1)
    })

    test('parts round trip: null parts, non-ASCII text, a part of a megabyte', async () => {
      const textOnly = await store.putTemplate('plain', 'en', content('Plain', { html: null }))
      expect(textOnly.template).toMatchObject({ html: null, text: 'Plain' })
      const htmlOnly = await store.putTemplate('rich', 'en', content('Rich', { text: null }))
      expect(htmlOnly.template).toMatchObject({ html: '<p>Rich</p>', text: null })
      expect(await store.getTemplate('plain', 'en')).toMatchObject({ html: null, text: 'Plain' })
      expect(await store.getTemplate('rich', 'en')).toMatchObject({ text: null })
      // Null and a part are different content.
      const withText = await store.putTemplate('rich', 'en', content('Rich', { text: 'Rich' }))
      expect(withText).toMatchObject({ created: true, template: { version: 2, text: 'Rich' } })

      const unicode: TemplateContent = {
        subject: 'Grüße, {{ name }} – 你好 🎉',
        html: '<p>Ça va? Ελληνικά, العربية, 😀 {% if x %}ja{% endif %}</p>',
        text: 'Zeile 1\r\nZeile 2\n\ttabbed \'quoted\' "double" \\ back  ',
      }
      const stored = await store.putTemplate('grüße', 'de-CH', unicode)
      expect(await store.getTemplate('grüße', 'de-CH')).toEqual(stored.template)
      expect(stored.template).toMatchObject(unicode)

      const line = '<p>Lorem ipsum dolor sit amet, ünïcödé 😀 consectetur.</p>\n'
      const big = line.repeat(Math.ceil((1024 * 1024) / line.length)).slice(0, 1024 * 1024)
      const large = await store.putTemplate('large', 'en', content('Large', { html: big }))
      const read = await store.getTemplate('large', 'en')
      expect(read?.html?.length).toBe(big.length)
      expect(read?.html === big).toBe(true)
      expect(read?.text).toBe('Large')
      expect(
        (await store.putTemplate('large', 'en', content('Large', { html: big }))).created,
      ).toBe(false)
      expect(large.template.version).toBe(1)
    })

    test('a message records the template it was made from', async () => {
      const ref = { name: 'welcome', language: 'de', version: 3 }
      const made = newMessage({ template: ref })
      const plain = newMessage()
      const without = newMessage({ template: null })
      await store.enqueue([made, plain, without])
      expect((await store.getMessage(made.id))?.template).toEqual(ref)
      expect((await store.getMessage(plain.id))?.template).toBeNull()
      expect((await store.getMessage(without.id))?.template).toBeNull()
      // Alone too (a single message may take another path), and unaffected by removal.
      const single = newMessage({ template: { name: 'grüße', language: 'en', version: 1 } })
      await store.enqueue([single])
      await store.putTemplate('grüße', 'en', content('x'))
      await store.removeTemplate('grüße')
      expect((await store.getMessage(single.id))?.template).toEqual({
        name: 'grüße',
        language: 'en',
        version: 1,
      })
    })
  })
}
