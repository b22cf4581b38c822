import { describe, expect, it } from 'vitest'
import { ConfigError } from '../errors.js'
import { smtpSettingsFromOptions, smtpSettingsFromUrl } from './smtp-settings.js'

const defaults = { maxConnections: 10, maxMessages: 100, maxAgeMs: 300_000 }

describe('smtpSettingsFromUrl', () => {
  it('reads Nodemailer URL options into the session and Outbox parameters into the limits', () => {
    const settings = smtpSettingsFromUrl(
      new URL(
        'smtp://u%40x:p%3Ass@mail.example.com:587?requireTLS=true&tls.rejectUnauthorized=false&poolSize=3&maxMessages=20&maxConnectionAge=90s',
      ),
      defaults,
    )
    expect(settings.limits).toEqual({ maxConnections: 3, maxMessages: 20, maxAgeMs: 90_000 })
    expect(settings.session.auth).toEqual({ user: 'u@x', pass: 'p:ss' })
    expect(settings.session.connection).toMatchObject({
      host: 'mail.example.com',
      port: 587,
      secure: false,
      requireTLS: true,
      tls: { rejectUnauthorized: false },
      socketTimeout: 120_000,
    })
    expect(settings.session.connection).not.toHaveProperty('poolSize')
    expect(settings.session.connection).not.toHaveProperty('maxMessages')
  })

  it('takes the defaults without parameters, and no login without credentials', () => {
    const settings = smtpSettingsFromUrl(new URL('smtps://mail.example.com'), defaults)
    expect(settings.limits).toEqual(defaults)
    expect(settings.session.auth).toBeNull()
    expect(settings.session.connection).toMatchObject({ secure: true })
  })

  it.each([['poolSize=0'], ['maxMessages=x'], ['maxConnectionAge=soon'], ['maxConnectionAge=5']])(
    'refuses ?%s',
    (query) => {
      expect(() => smtpSettingsFromUrl(new URL(`smtp://h?${query}`), defaults)).toThrow(ConfigError)
    },
  )
})

describe('smtpSettingsFromOptions', () => {
  it("takes Nodemailer's pool option names as limits", () => {
    const settings = smtpSettingsFromOptions(
      { host: 'h', pool: true, maxConnections: 2, maxMessages: 5, auth: { user: 'u', pass: 'p' } },
      defaults,
    )
    expect(settings.limits).toMatchObject({ maxConnections: 2, maxMessages: 5 })
    expect(settings.session.connection).not.toHaveProperty('pool')
    expect(settings.session.auth).toEqual({ user: 'u', pass: 'p' })
  })

  it('resolves a well-known service', () => {
    const settings = smtpSettingsFromOptions({ service: 'Gmail' }, defaults)
    expect(settings.session.connection).toMatchObject({ host: 'smtp.gmail.com' })
  })

  it.each([
    [{ host: 'h', proxy: 'http://proxy:3128' }, /proxy/],
    [{ host: 'h', dkim: { domainName: 'x' } }, /DKIM/],
    [{ host: 'h', auth: { type: 'OAuth2', user: 'u' } }, /OAuth2/],
  ])('refuses what it cannot honour, with the way out: %o', (options, what) => {
    expect(() => smtpSettingsFromOptions(options, defaults)).toThrow(what)
    expect(() => smtpSettingsFromOptions(options, defaults)).toThrow(/nodemailer\.createTransport/)
  })
})
