import { OutboxError, StoreUnavailableError } from '../../errors.js'

/** A Redis URL as shown in messages and logs: its password replaced by `***`. */
export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '***'
    parsed.search = ''
    return parsed.toString()
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@')
  }
}

/**
 * Turns what ioredis throws into a store error, with the password (if the driver quoted it)
 * masked. A refusal by a script (`OUTBOX_…`) is a write the store declined; anything else
 * means the server could not be reached or failed.
 */
export function redisFailure(error: unknown, where: string, password: string): OutboxError {
  if (error instanceof OutboxError) return error
  let message = error instanceof Error ? error.message : String(error)
  if (password) message = message.split(password).join('***')
  const refused = /OUTBOX_[A-Z_]+ (.*)/.exec(message)
  if (refused) {
    return new StoreUnavailableError(`The Redis store refused the write: ${refused[1]}.`, {
      cause: error,
    })
  }
  return new StoreUnavailableError(`The Redis store at ${where} is unavailable: ${message}`, {
    cause: error,
  })
}
