import { describe, expect, it } from 'vitest'
import { resolveRoutingSettings, type RouteSetting } from '../config/routing-settings.js'
import { routeMessage, type RoutableMessage } from './routes.js'

/** Routes as the config file writes them, validated (the tests fail on any problem). */
function routes(raw: unknown[]): readonly RouteSetting[] {
  const { settings, problems } = resolveRoutingSettings(
    {
      upstreams: {
        ses: 'smtp://ses.example:587',
        backup: 'smtp://backup.example:25',
        bulk: 'smtp://bulk.example:25',
        vip: 'smtp://vip.example:25',
      },
      routes: raw,
    },
    'capture',
    { fromFile: true, defaultRateLimit: null },
  )
  expect(problems).toEqual([])
  return settings.routes
}

const message = (m: Partial<RoutableMessage> = {}): RoutableMessage => ({
  from: 'shop@example.com',
  recipients: ['a@example.org'],
  tags: [],
  upstream: null,
  ...m,
})

describe('routeMessage', () => {
  it('sends everything to the default upstream with no routes', () => {
    expect(routeMessage(message({ recipients: ['a@x.example', 'b@y.example'] }), [])).toEqual([
      { upstreams: ['default'], recipients: ['a@x.example', 'b@y.example'] },
    ])
  })

  it('uses the default upstream when no route matches', () => {
    const r = routes([
      { match: { to: '@gmail.com' }, upstream: 'ses' },
      { match: { tag: 'bulk' }, upstream: 'bulk' },
    ])
    expect(routeMessage(message(), r)).toEqual([
      { upstreams: ['default'], recipients: ['a@example.org'] },
    ])
  })

  it('matches the sender domain, in any case', () => {
    const r = routes([{ match: { from: '@Marketing.Example.com' }, upstream: 'bulk' }])
    expect(routeMessage(message({ from: 'news@marketing.example.COM' }), r)).toEqual([
      { upstreams: ['bulk'], recipients: ['a@example.org'] },
    ])
    // A subdomain is another domain.
    expect(routeMessage(message({ from: 'news@eu.marketing.example.com' }), r)).toEqual([
      { upstreams: ['default'], recipients: ['a@example.org'] },
    ])
  })

  it('matches an exact sender address, not others at its domain', () => {
    const r = routes([{ match: { from: 'CEO@example.com' }, upstream: 'vip' }])
    expect(routeMessage(message({ from: 'ceo@Example.com' }), r)[0]!.upstreams).toEqual(['vip'])
    expect(routeMessage(message({ from: 'shop@example.com' }), r)[0]!.upstreams).toEqual([
      'default',
    ])
    expect(routeMessage(message({ from: '' }), r)[0]!.upstreams).toEqual(['default'])
  })

  it('splits a message whose recipients match different routes, keeping each group whole', () => {
    const r = routes([
      { match: { to: ['@gmail.com', '@googlemail.com'] }, upstream: 'ses', fallback: ['backup'] },
    ])
    const recipients = ['a@GMAIL.com', 'b@example.org', 'c@googlemail.com.', 'd@example.net']
    expect(routeMessage(message({ recipients }), r)).toEqual([
      { upstreams: ['ses', 'backup'], recipients: ['a@GMAIL.com', 'c@googlemail.com.'] },
      { upstreams: ['default'], recipients: ['b@example.org', 'd@example.net'] },
    ])
  })

  it('matches a recipient address, and an IDN domain in punycode either way', () => {
    const r = routes([
      { match: { to: '@Bücher.example' }, upstream: 'ses' },
      { match: { to: 'boss@xn--mller-kva.example' }, upstream: 'vip' },
    ])
    const recipients = ['x@xn--bcher-kva.example', 'y@bücher.example', 'Boss@müller.example']
    expect(routeMessage(message({ recipients }), r)).toEqual([
      { upstreams: ['ses'], recipients: ['x@xn--bcher-kva.example', 'y@bücher.example'] },
      { upstreams: ['vip'], recipients: ['Boss@müller.example'] },
    ])
  })

  it('keeps recipients of different routes to the same upstreams in one group', () => {
    const r = routes([
      { match: { to: '@gmail.com' }, upstream: 'ses' },
      { match: { to: '@yahoo.com' }, upstream: 'ses' },
      { match: { to: '@example.org' }, upstream: 'default' },
    ])
    const recipients = ['a@gmail.com', 'b@yahoo.com', 'c@example.org', 'd@example.net']
    expect(routeMessage(message({ recipients }), r)).toEqual([
      { upstreams: ['ses'], recipients: ['a@gmail.com', 'b@yahoo.com'] },
      { upstreams: ['default'], recipients: ['c@example.org', 'd@example.net'] },
    ])
  })

  it('matches a tag: the message needs one of the route’s tags', () => {
    const r = routes([{ match: { tag: ['newsletter', 'digest'] }, upstream: 'bulk' }])
    expect(routeMessage(message({ tags: ['receipt', 'digest'] }), r)[0]!.upstreams).toEqual([
      'bulk',
    ])
    expect(routeMessage(message({ tags: ['receipt'] }), r)[0]!.upstreams).toEqual(['default'])
    // Tags are compared as written.
    expect(routeMessage(message({ tags: ['Digest'] }), r)[0]!.upstreams).toEqual(['default'])
  })

  it('needs every part of a match: sender, tag and recipient', () => {
    const r = routes([
      { match: { from: '@shop.example', tag: 'receipt', to: '@gmail.com' }, upstream: 'vip' },
    ])
    const all = { from: 'x@shop.example', tags: ['receipt'], recipients: ['a@gmail.com'] }
    expect(routeMessage(message(all), r)[0]!.upstreams).toEqual(['vip'])
    for (const part of [
      { from: 'x@other.example' },
      { tags: [] },
      { recipients: ['a@yahoo.com'] },
    ]) {
      expect(routeMessage(message({ ...all, ...part }), r)[0]!.upstreams).toEqual(['default'])
    }
  })

  it('takes the first matching route, per recipient', () => {
    const r = routes([
      { match: { to: 'vip@gmail.com' }, upstream: 'vip' },
      { match: { to: '@gmail.com' }, upstream: 'ses' },
      { match: { tag: 'bulk' }, upstream: 'bulk' },
      { upstream: 'backup' },
    ])
    const recipients = ['vip@gmail.com', 'other@gmail.com', 'x@example.org']
    expect(routeMessage(message({ recipients, tags: ['bulk'] }), r)).toEqual([
      { upstreams: ['vip'], recipients: ['vip@gmail.com'] },
      { upstreams: ['ses'], recipients: ['other@gmail.com'] },
      { upstreams: ['bulk'], recipients: ['x@example.org'] },
    ])
    expect(routeMessage(message({ recipients }), r)).toEqual([
      { upstreams: ['vip'], recipients: ['vip@gmail.com'] },
      { upstreams: ['ses'], recipients: ['other@gmail.com'] },
      { upstreams: ['backup'], recipients: ['x@example.org'] },
    ])
  })

  it('lets the message’s own upstream override every route, with no fallback', () => {
    const r = routes([{ upstream: 'ses', fallback: ['backup'] }])
    expect(
      routeMessage(message({ upstream: 'vip', recipients: ['a@gmail.com', 'b@example.org'] }), r),
    ).toEqual([{ upstreams: ['vip'], recipients: ['a@gmail.com', 'b@example.org'] }])
    expect(routeMessage(message({ upstream: 'default' }), r)).toEqual([
      { upstreams: ['default'], recipients: ['a@example.org'] },
    ])
  })
})
