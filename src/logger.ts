/**
 * The logger Outbox writes to: any pino-compatible logger (pino itself, or a child of the
 * application's). The library is silent unless one is given.
 */
export interface Logger {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

const noop = (): void => {}

/** A logger that drops everything; the default, so a library never writes to stdout uninvited. */
export const silentLogger: Logger = Object.freeze({
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
})
