import { describe, expect, it } from 'vitest'
import { freePort } from '../helpers/free-port.js'
import { ConfigError, StoreUnavailableError } from '../../src/errors.js'
import { openStore } from '../../src/store/open-store.js'
import { assertSupportedServer } from '../../src/store/mariadb/server-version.js'

describe('MariaDB store errors', () => {
  it('a server that is not there is StoreUnavailableError, without the password', async () => {
    const port = await freePort()
    const error = await openStore(`mysql://outbox:s3cret-pw@127.0.0.1:${port}/app`).catch(
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(StoreUnavailableError)
    expect((error as Error).message).toMatch(/unreachable/)
    expect((error as Error).message).toContain('outbox:***@')
    expect((error as Error).message).not.toContain('s3cret-pw')
  })

  it('mariadb:// is accepted like mysql://, and a URL without a database is refused', async () => {
    const port = await freePort()
    await expect(openStore(`mariadb://root@127.0.0.1:${port}/app`)).rejects.toBeInstanceOf(
      StoreUnavailableError,
    )
    await expect(openStore(`mysql://root@127.0.0.1:${port}`)).rejects.toBeInstanceOf(ConfigError)
    await expect(openStore(`mysql://root@127.0.0.1:${port}/app?prefix=Bad-`)).rejects.toThrow(
      /prefix/,
    )
  })

  it('refuses servers older than MariaDB 10.6 or MySQL 8.0, naming the version found', () => {
    for (const ok of [
      '10.6.0-MariaDB',
      '10.11.6-MariaDB-0+deb12u1',
      '11.4.2-MariaDB',
      '8.0.36',
      '8.4.0',
      '5.5.5-10.6.12-MariaDB',
    ]) {
      expect(() => assertSupportedServer(ok), ok).not.toThrow()
    }
    for (const old of ['10.5.23-MariaDB', '5.7.44', '5.5.5-10.3.39-MariaDB']) {
      const error = (() => {
        try {
          assertSupportedServer(old)
        } catch (e) {
          return e
        }
      })()
      expect(error, old).toBeInstanceOf(ConfigError)
      expect((error as Error).message).toContain(old)
    }
  })
})
