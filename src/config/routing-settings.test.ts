import { describe, expect, it } from 'vitest'
import {
  normaliseAddress,
  normaliseDomain,
  resolveRoutingSettings,
  type RoutingInput,
} from './routing-settings.js'

const resolve = (input: RoutingInput, options: { fromFile?: boolean } = {}) =>
  resolveRoutingSettings(input, 'capture', {
    fromFile: options.fromFile ?? true,
    defaultRateLimit: null,
  })
const problems = (input: RoutingInput, options: { fromFile?: boolean } = {}) =>
  resolve(input, options).problems

const ses = { url: 'smtp://user:secret@email-smtp.example:587', rateLimit: '14/s' }

describe('normalising domains and addresses', () => {
  it.each([
    ['Example.COM', 'example.com'],
    ['example.com.', 'example.com'],
    ['  example.com ', 'example.com'],
    ['Bücher.example', 'xn--bcher-kva.example'],
    ['xn--bcher-kva.example', 'xn--bcher-kva.example'],
    ['_dmarc.example.com', '_dmarc.example.com'],
  ])('%s → %s', (input, expected) => {
    expect(normaliseDomain(input)).toBe(expected)
  })

  it.each(['', '.', 'a b.example', 'x@example.com', '*.example.com', 'a..example', '-a.example'])(
    'refuses %j',
    (input) => {
      expect(normaliseDomain(input)).toBe('')
    },
  )

  it('lower-cases an address and puts its domain in punycode', () => {
    expect(normaliseAddress('Info@Bücher.Example.')).toEqual({
      local: 'info',
      domain: 'xn--bcher-kva.example',
    })
    expect(normaliseAddress('@example.com')).toBeNull()
    expect(normaliseAddress('nobody')).toBeNull()
  })
})

describe('resolveRoutingSettings: a valid configuration', () => {
  it('has the default upstream even with nothing configured', () => {
    const { settings, problems: p } = resolveRoutingSettings({}, 'smtp://relay:25', {
      fromFile: true,
      defaultRateLimit: { count: 10, perMs: 1000 },
    })
    expect(p).toEqual([])
    expect([...settings.upstreams]).toEqual([
      [
        'default',
        { spec: 'smtp://relay:25', maxConnections: null, rateLimit: { count: 10, perMs: 1000 } },
      ],
    ])
    expect(settings.routes).toEqual([])
    expect(settings.domainLimits.size).toBe(0)
  })

  it('reads upstreams, routes and domain limits, normalised', () => {
    const { settings, problems: p } = resolve({
      upstreams: {
        ses: { ...ses, maxConnections: 4 },
        backup: 'smtp://backup.example:25',
        slow: { url: 'smtps://slow.example', rateLimit: { count: 100, perMs: 60_000 } },
        'mail-2.eu_west': { url: 'capture', rateLimit: 'none', maxConnections: '2' },
      },
      routes: [
        {
          match: { from: ['News@Shop.Example', '@Marketing.Example.'], tag: 'bulk' },
          upstream: 'slow',
        },
        { match: { to: '@Bücher.example' }, upstream: 'ses', fallback: 'backup' },
        { match: { to: ['@gmail.com', '@GoogleMail.com'] }, upstream: 'ses', fallback: ['backup'] },
        { upstream: 'backup' },
      ],
      domainLimits: { 'Gmail.com.': '100/m', '@yahoo.com': { count: 5, perMs: 1000 } },
    })
    expect(p).toEqual([])
    expect(Object.fromEntries(settings.upstreams)).toEqual({
      default: { spec: 'capture', maxConnections: null, rateLimit: null },
      ses: { spec: ses.url, maxConnections: 4, rateLimit: { count: 14, perMs: 1000 } },
      backup: { spec: 'smtp://backup.example:25', maxConnections: null, rateLimit: null },
      slow: {
        spec: 'smtps://slow.example',
        maxConnections: null,
        rateLimit: { count: 100, perMs: 60_000 },
      },
      'mail-2.eu_west': { spec: 'capture', maxConnections: 2, rateLimit: null },
    })
    expect(settings.routes).toEqual([
      {
        match: {
          from: { addresses: ['news@shop.example'], domains: ['marketing.example'], any: false },
          to: { addresses: [], domains: [], any: true },
          tags: ['bulk'],
        },
        upstream: 'slow',
        fallback: [],
      },
      {
        match: {
          from: { addresses: [], domains: [], any: true },
          to: { addresses: [], domains: ['xn--bcher-kva.example'], any: false },
          tags: [],
        },
        upstream: 'ses',
        fallback: ['backup'],
      },
      {
        match: {
          from: { addresses: [], domains: [], any: true },
          to: { addresses: [], domains: ['gmail.com', 'googlemail.com'], any: false },
          tags: [],
        },
        upstream: 'ses',
        fallback: ['backup'],
      },
      {
        match: {
          from: { addresses: [], domains: [], any: true },
          to: { addresses: [], domains: [], any: true },
          tags: [],
        },
        upstream: 'backup',
        fallback: [],
      },
    ])
    expect(Object.fromEntries(settings.domainLimits)).toEqual({
      'gmail.com': { count: 100, perMs: 60_000 },
      'yahoo.com': { count: 5, perMs: 1000 },
    })
  })

  it('lets a route name the default upstream, and null mean "not set"', () => {
    const { settings, problems: p } = resolve({
      upstreams: null,
      routes: [{ match: { tag: 'x' }, upstream: 'default' }],
      domainLimits: null,
    })
    expect(p).toEqual([])
    expect(settings.routes[0]!.upstream).toBe('default')
  })

  it('takes transports and options objects as upstreams in code, but only URLs in a file', () => {
    const transport = { sendMail: () => undefined }
    const input = { upstreams: { app: transport, opts: { url: { host: 'relay', port: 25 } } } }
    const code = resolve(input, { fromFile: false })
    expect(code.problems).toEqual([])
    expect(code.settings.upstreams.get('app')!.spec).toBe(transport)
    expect(code.settings.upstreams.get('opts')!.spec).toEqual({ host: 'relay', port: 25 })
    expect(problems(input)).toEqual([
      'upstreams.app.url = {}: expected capture, or an smtp:// or smtps:// URL',
      'upstreams.opts.url = {"host":"relay","port":25}: expected capture, or an smtp:// or smtps:// URL',
    ])
  })
})

describe('resolveRoutingSettings: every problem, one line each, naming the setting', () => {
  it.each<[string, RoutingInput, string[]]>([
    [
      'a route to an unknown upstream',
      { upstreams: { ses }, routes: [{ match: { to: '@gmail.com' }, upstream: 'sess' }] },
      ['routes[0].upstream = "sess": no such upstream (known: default, ses)'],
    ],
    [
      'a route with no upstream',
      { routes: [{ match: { to: '@gmail.com' } }] },
      ['routes[0].upstream = undefined: no such upstream (known: default)'],
    ],
    [
      'an unknown fallback',
      { upstreams: { ses }, routes: [{ upstream: 'ses', fallback: ['default', 'backup'] }] },
      ['routes[0].fallback[1] = "backup": no such upstream (known: default, ses)'],
    ],
    [
      'a fallback listed twice',
      { upstreams: { ses }, routes: [{ upstream: 'ses', fallback: ['default', 'default'] }] },
      [
        'routes[0].fallback[1] = "default": already tried earlier in this route; list each upstream once',
      ],
    ],
    [
      'a fallback equal to the upstream',
      { upstreams: { ses }, routes: [{ upstream: 'ses', fallback: 'ses' }] },
      [
        'routes[0].fallback[0] = "ses": already tried earlier in this route; list each upstream once',
      ],
    ],
    [
      'a fallback that is not a list',
      { routes: [{ upstream: 'default', fallback: { name: 'x' } }] },
      ['routes[0].fallback = {"name":"x"}: expected a list of upstream names'],
    ],
    [
      'a bad rate',
      { upstreams: { ses: { ...ses, rateLimit: '14 per second' } } },
      ['upstreams.ses.rateLimit = "14 per second": expected a rate such as 14/s, 100/m or 20000/h'],
    ],
    [
      'a zero rate',
      { upstreams: { ses: { ...ses, rateLimit: { count: 0, perMs: 1000 } } } },
      [
        'upstreams.ses.rateLimit = {"count":0,"perMs":1000}: expected a rate such as 14/s, 100/m or 20000/h',
      ],
    ],
    ...([0, 1001, 2.5, '3 connections', true, null] as unknown[]).map(
      (value): [string, RoutingInput, string[]] => [
        `maxConnections ${JSON.stringify(value)}`,
        { upstreams: { ses: { ...ses, maxConnections: value } } },
        [
          `upstreams.ses.maxConnections = ${JSON.stringify(value)}: expected a whole number from 1 to 1000`,
        ],
      ],
    ),
    [
      'a URL that is not SMTP (its password redacted)',
      { upstreams: { ses: { url: 'https://user:secret@api.example/send' } } },
      [
        'upstreams.ses.url = "https://user:***@api.example/send": expected capture, or an smtp:// or smtps:// URL',
      ],
    ],
    [
      'a bare value that is not a URL',
      { upstreams: { ses: 42 } },
      ['upstreams.ses.url = 42: expected capture, or an smtp:// or smtps:// URL'],
    ],
    [
      'a bad name',
      { upstreams: { 'my relay': 'smtp://relay:25', '-x': 'smtp://relay:25' } },
      [
        'upstreams.my relay: an upstream name is letters, digits, ".", "_" or "-" (at most 64), starting with a letter or digit',
        'upstreams.-x: an upstream name is letters, digits, ".", "_" or "-" (at most 64), starting with a letter or digit',
      ],
    ],
    [
      'a name of 65 characters',
      { upstreams: { ['a'.repeat(65)]: 'smtp://relay:25' } },
      [
        `upstreams.${'a'.repeat(65)}: an upstream name is letters, digits, ".", "_" or "-" (at most 64), starting with a letter or digit`,
      ],
    ],
    ...['default', 'Default'].map((name): [string, RoutingInput, string[]] => [
      `${name} as a name`,
      { upstreams: { [name]: 'smtp://relay:25' } },
      [
        `upstreams.${name}: "default" is the upstream of the \`upstream\` setting; set that, or give this one another name`,
      ],
    ]),
    [
      'two upstream names differing only in case',
      { upstreams: { ses: 'smtp://a:25', SES: 'smtp://b:25' } },
      [
        'upstreams.SES: differs from upstreams.ses only in case; give each upstream a name of its own',
      ],
    ],
    [
      'unknown keys',
      {
        upstreams: { ses: { ...ses, rate: '14/s' } },
        routes: [{ match: { to: '@gmail.com', subject: 'x' }, upstream: 'ses', fallbacks: [] }],
      },
      [
        'upstreams.ses.rate: unknown key (known: url, maxConnections, rateLimit)',
        'routes[0].fallbacks: unknown key (known: match, upstream, fallback)',
        'routes[0].match.subject: unknown key (known: from, to, tag)',
      ],
    ],
    [
      'a domain written without @ in a route',
      { routes: [{ match: { to: ['@yahoo.com', 'gmail.com'] }, upstream: 'default' }] },
      [
        'routes[0].match.to = "gmail.com" matches nothing: a domain is written with its @ ("@gmail.com"), an address in full',
      ],
    ],
    [
      'a sender domain without @',
      { routes: [{ match: { from: 'shop.example' }, upstream: 'default' }] },
      [
        'routes[0].match.from = "shop.example" matches nothing: a domain is written with its @ ("@shop.example"), an address in full',
      ],
    ],
    [
      'a pattern that is neither address nor domain',
      { routes: [{ match: { to: '@*.example.com', from: 'shop@' }, upstream: 'default' }] },
      [
        'routes[0].match.from = "shop@": not an address or @domain, so it matches nothing',
        'routes[0].match.to = "@*.example.com": not an address or @domain, so it matches nothing',
      ],
    ],
    [
      'an empty list',
      { routes: [{ match: { to: [] }, upstream: 'default' }] },
      [
        'routes[0].match.to = []: expected an address ("a@b.example"), a domain ("@b.example"), or a non-empty list of them',
      ],
    ],
    [
      'an empty tag list and a bad tag',
      {
        routes: [
          { match: { tag: [] }, upstream: 'default' },
          { match: { tag: 'a,b' }, upstream: 'default' },
        ],
      },
      [
        'routes[0].match.tag = []: expected a tag (no spaces or commas, at most 64 characters) or a non-empty list of them',
        'routes[1].match.tag = "a,b": expected a tag (no spaces or commas, at most 64 characters) or a non-empty list of them',
      ],
    ],
    [
      'a route after a catch-all route',
      {
        upstreams: { ses },
        routes: [{ upstream: 'ses' }, { match: { to: '@gmail.com' }, upstream: 'default' }],
      },
      [
        'routes[1] matches nothing ever: routes[0] has no match, so it takes all mail first; put it last',
      ],
    ],
    [
      'two catch-all routes (one line, not two)',
      { routes: [{ upstream: 'default' }, { match: {}, upstream: 'default' }] },
      [
        'routes[1] matches nothing ever: routes[0] has no match, so it takes all mail first; put it last',
      ],
    ],
    [
      'a duplicate route, differing only in case and order',
      {
        upstreams: { ses },
        routes: [
          { match: { to: ['@gmail.com', '@yahoo.com'] }, upstream: 'ses' },
          { match: { to: ['@Yahoo.COM', '@GMAIL.com.'] }, upstream: 'default' },
        ],
      },
      ['routes[1] matches nothing ever: routes[0] matches the same mail first; remove one'],
    ],
    [
      'routes that are not a list',
      { routes: { to: 'ses' } },
      [
        'routes = {"to":"ses"}: expected a list of routes, such as [{ "match": { "to": "@gmail.com" }, "upstream": "ses" }]',
      ],
    ],
    [
      'a route that is not an object',
      { routes: ['ses'] },
      ['routes[0] = "ses": expected { match, upstream, fallback }'],
    ],
    [
      'a match that is not an object (and the rest of the route checked too)',
      { routes: [{ match: '@gmail.com', upstream: 'nope' }] },
      [
        'routes[0].match = "@gmail.com": expected { from, to, tag }',
        'routes[0].upstream = "nope": no such upstream (known: default)',
      ],
    ],
    [
      'upstreams that are not an object',
      { upstreams: ['smtp://relay:25'] },
      [
        'upstreams = ["smtp://relay:25"]: expected an object of named upstreams, such as { "ses": { "url": "smtp://…", "rateLimit": "14/s" } }',
      ],
    ],
    [
      'a domain limit with a bad domain',
      { domainLimits: { 'gmail com': '100/m', '*.yahoo.com': '1/s' } },
      ['domainLimits.gmail com: not a domain name', 'domainLimits.*.yahoo.com: not a domain name'],
    ],
    [
      'a domain limit with a bad rate',
      { domainLimits: { 'gmail.com': 'fast', 'yahoo.com': 'none' } },
      [
        'domainLimits.gmail.com = "fast": expected a rate such as 14/s, 100/m or 20000/h',
        'domainLimits.yahoo.com = "none": expected a rate such as 100/m (leave the domain out for no limit)',
      ],
    ],
    [
      'domain limits differing only in case (or a trailing dot, or punycode)',
      {
        domainLimits: {
          'gmail.com': '100/m',
          'GMail.com.': '10/m',
          'bücher.example': '1/s',
          'xn--bcher-kva.example': '2/s',
        },
      },
      [
        'domainLimits.GMail.com.: gmail.com is listed twice (domains are compared in lower case)',
        'domainLimits.xn--bcher-kva.example: xn--bcher-kva.example is listed twice (domains are compared in lower case)',
      ],
    ],
    [
      'domain limits that are not an object',
      { domainLimits: '100/m' },
      [
        'domainLimits = "100/m": expected an object of domain → rate, such as { "gmail.com": "100/m" }',
      ],
    ],
  ])('%s', (_name, input, expected) => {
    expect(problems(input)).toEqual(expected)
  })

  it('names an invalid upstream once, not again in each route that uses it', () => {
    expect(
      problems({
        upstreams: { ses: { ...ses, rateLimit: 'fast' }, backup: { url: 'http://x' } },
        routes: [{ match: { to: '@gmail.com' }, upstream: 'ses', fallback: ['backup'] }],
      }),
    ).toEqual([
      'upstreams.ses.rateLimit = "fast": expected a rate such as 14/s, 100/m or 20000/h',
      'upstreams.backup.url = "http://x": expected capture, or an smtp:// or smtps:// URL',
    ])
  })

  it('reports several problems as several lines, in order, and keeps the valid parts', () => {
    const { settings, problems: p } = resolve({
      upstreams: { ses: { ...ses, rateLimit: 'quick' }, backup: 'smtp://backup:25' },
      routes: [
        { match: { to: 'gmail.com' }, upstream: 'nope' },
        { match: { tag: 'bulk' }, upstream: 'backup', fallback: ['default', 'gone'] },
        { match: { to: '@yahoo.com' }, upstream: 'backup' },
      ],
      domainLimits: { 'gmail.com': '0/s', 'yahoo.com': '5/s' },
    })
    expect(p).toEqual([
      'upstreams.ses.rateLimit = "quick": expected a rate such as 14/s, 100/m or 20000/h',
      'routes[0].match.to = "gmail.com" matches nothing: a domain is written with its @ ("@gmail.com"), an address in full',
      'routes[0].upstream = "nope": no such upstream (known: default, backup)',
      'routes[1].fallback[1] = "gone": no such upstream (known: default, backup)',
      'domainLimits.gmail.com = "0/s": expected a rate such as 14/s, 100/m or 20000/h',
    ])
    expect([...settings.upstreams.keys()]).toEqual(['default', 'backup'])
    expect(settings.routes.map((r) => r.upstream)).toEqual(['backup'])
    expect([...settings.domainLimits.keys()]).toEqual(['yahoo.com'])
  })

  it('never prints an upstream password', () => {
    const p = problems({
      upstreams: {
        a: { url: 'smtp://user:hunter2@relay', rateLimit: 'x', extra: 1 },
        b: 'smtpx://user:hunter2@relay',
      },
      routes: [{ upstream: 'smtp://user:hunter2@relay' }],
    })
    expect(p.length).toBeGreaterThan(0)
    expect(p.join('\n')).not.toContain('hunter2')
  })
})
