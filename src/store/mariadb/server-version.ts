import { ConfigError } from '../../errors.js'

/** The oldest servers with `FOR UPDATE SKIP LOCKED` and `JSON_TABLE`, which the store needs. */
const OLDEST = { MariaDB: [10, 6], MySQL: [8, 0] } as const

/**
 * Refuses a server too old for the store, naming the version it found. `version` is what
 * `SELECT VERSION()` returns, e.g. `10.11.6-MariaDB-0+deb12u1` or `8.0.36`.
 */
export function assertSupportedServer(version: string): void {
  const product = /mariadb/i.test(version) ? 'MariaDB' : 'MySQL'
  // MariaDB behind a MySQL-compatible prefix reports e.g. `5.5.5-10.6.12-MariaDB`.
  const numbers = /(?:^5\.5\.5-)?(\d+)\.(\d+)/.exec(version)
  const [major, minor] = numbers ? [Number(numbers[1]), Number(numbers[2])] : [0, 0]
  const [needMajor, needMinor] = OLDEST[product]
  if (major > needMajor || (major === needMajor && minor >= needMinor)) return
  throw new ConfigError(
    'store',
    `The ${product} server runs version ${version}; the Outbox store needs ${product} ` +
      `${needMajor}.${needMinor} or newer (for FOR UPDATE SKIP LOCKED and JSON_TABLE).`,
  )
}
