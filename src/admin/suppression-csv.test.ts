import { describe, expect, it } from 'vitest'
import { csvLine, csvRecords, unguardField, type CsvRecord } from './suppression-csv.js'

async function parse(...chunks: string[]): Promise<CsvRecord[]> {
  const out: CsvRecord[] = []
  for await (const record of csvRecords(
    (async function* () {
      yield* chunks
    })(),
  )) {
    out.push(record)
  }
  return out
}

describe('csvRecords', () => {
  it('splits records with their line numbers, skipping blank and # lines', async () => {
    expect(
      await parse('address,reason\n\n# a comment, with a comma\r\na@x.org,manual\rb@x.org'),
    ).toEqual([
      { line: 1, fields: ['address', 'reason'] },
      { line: 4, fields: ['a@x.org', 'manual'] },
      { line: 5, fields: ['b@x.org'] },
    ])
  })

  it('reads quoted fields with commas, doubled quotes and line breaks', async () => {
    expect(await parse('"a@x.org","said ""no"", twice\nreally"\nb@x.org,""\n')).toEqual([
      { line: 1, fields: ['a@x.org', 'said "no", twice\nreally'] },
      { line: 3, fields: ['b@x.org', ''] },
    ])
  })

  it('gives the same records however the text is cut into chunks', async () => {
    const text = 'address,reply\r\n"a@x.org","x ""y"" z"\r\n# c\r\nb@x.org,plain\r\n'
    const whole = await parse(text)
    for (let cut = 1; cut < text.length; cut++) {
      expect(await parse(text.slice(0, cut), text.slice(cut)), `cut at ${cut}`).toEqual(whole)
    }
  })

  it('refuses an unclosed quote and text after a closing quote, naming the line', async () => {
    await expect(parse('a@x.org\n"b@x.org,foo\n')).rejects.toThrow(
      /line 2: a quoted field is never closed/,
    )
    await expect(parse('a@x.org\nb@x.org\n"c"d\n')).rejects.toThrow(
      /line 3: text after the closing quote/,
    )
  })
})

describe('csvLine', () => {
  it('quotes what needs it and guards formulas, which unguardField undoes', async () => {
    const line = csvLine(['a@x.org', 'say "hi", ok', null, '=HYPERLINK("http://evil")', ' x'])
    expect(line).toBe('a@x.org,"say ""hi"", ok",,"\'=HYPERLINK(""http://evil"")"," x"\n')
    const [record] = await parse(line)
    expect(record!.fields.map(unguardField)).toEqual([
      'a@x.org',
      'say "hi", ok',
      '',
      '=HYPERLINK("http://evil")',
      ' x',
    ])
  })
})
