/**
 * Every error Outbox throws on purpose is an {@link OutboxError} with a stable `code`.
 * Codes are never reused or renamed: scripts and alerting may match on them.
 * Subclasses exist only where a caller is expected to branch on the kind of failure.
 */

/** Stable error codes. Documented here, never reused. */
export const ErrorCodes = {
  /** The message handed to `send()` is invalid; `field` names what to fix. Nothing was stored. */
  INVALID_MESSAGE: 'OUTBOX_INVALID_MESSAGE',
  /** The composed message is bigger than `maxMessageSize`. Nothing was stored. */
  MESSAGE_TOO_LARGE: 'OUTBOX_MESSAGE_TOO_LARGE',
  /** An option or configuration value is invalid; `key` names it. */
  INVALID_CONFIG: 'OUTBOX_INVALID_CONFIG',
  /** The store cannot be reached or refused the write. Nothing was stored. */
  STORE_UNAVAILABLE: 'OUTBOX_STORE_UNAVAILABLE',
  /** The store's file is not a database, or is damaged: restore it or move it aside. */
  STORE_DAMAGED: 'OUTBOX_STORE_DAMAGED',
  /** The store's schema was written by a newer Outbox than this one. */
  SCHEMA_TOO_NEW: 'OUTBOX_SCHEMA_TOO_NEW',
  /** No message has the given queue id. */
  MESSAGE_NOT_FOUND: 'OUTBOX_MESSAGE_NOT_FOUND',
  /** The Outbox (or worker) was closed; create a new one. */
  CLOSED: 'OUTBOX_CLOSED',
  UNAUTHORIZED: 'OUTBOX_UNAUTHORIZED',
  FORBIDDEN: 'OUTBOX_FORBIDDEN',
  NOT_FOUND: 'OUTBOX_NOT_FOUND',
  /** A DKIM key checked at start could not sign a message (not expected); nothing was stored. */
  DKIM_SIGNING_FAILED: 'OUTBOX_DKIM_SIGNING_FAILED',
  /** No template (or no language of it) by that name; `field` is `template` or `language`. */
  TEMPLATE_NOT_FOUND: 'OUTBOX_TEMPLATE_NOT_FOUND',
  /** A template does not parse; `field` names the part (`subject`, `html`, `text`), with line and column. */
  TEMPLATE_SYNTAX: 'OUTBOX_TEMPLATE_SYNTAX',
  /** Rendering failed: a variable the template uses is missing from the context (`field`: `context.name`), or a filter failed. */
  TEMPLATE_RENDER: 'OUTBOX_TEMPLATE_RENDER',
} as const

/** One of the {@link ErrorCodes} values. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes]

/** Base class of every error Outbox throws on purpose. */
export class OutboxError extends Error {
  /** Stable machine-readable code, one of {@link ErrorCodes}. */
  readonly code: ErrorCode

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'OutboxError'
    this.code = code
  }
}

/** The message handed to `send()`/`sendMany()` is invalid. Nothing was stored. */
export class InvalidMessageError extends OutboxError {
  /** The field that is wrong, as a path: `to`, `attachments[2].content`, `options.priority`. */
  readonly field: string

  constructor(field: string, message: string, options?: { cause?: unknown; code?: ErrorCode }) {
    super(options?.code ?? ErrorCodes.INVALID_MESSAGE, message, options)
    this.name = 'InvalidMessageError'
    this.field = field
  }
}

/** One bad line of a suppression-list import. */
export interface ImportProblem {
  /** 1-based line of the file where the bad record starts. */
  line: number
  message: string
}

/**
 * A suppression-list import has bad lines; nothing was stored. `field` names the first bad
 * line (`line 5001`), `problems` lists the first hundred of them.
 */
export class InvalidImportError extends InvalidMessageError {
  readonly problems: readonly ImportProblem[]

  constructor(problems: readonly ImportProblem[], total: number) {
    const shown = problems
      .slice(0, 5)
      .map((p) => `line ${p.line}: ${p.message}`)
      .join('; ')
    super(
      `line ${problems[0]?.line ?? 0}`,
      `${total} bad line${total === 1 ? '' : 's'} in the import, nothing was stored: ${shown}` +
        `${total > 5 ? `; and ${total - 5} more` : ''}. Fix ${total === 1 ? 'it' : 'them'}, or ` +
        'import with skip-invalid (`--skip-invalid`, `"skipInvalid": true`) to store only the good lines.',
    )
    this.name = 'InvalidImportError'
    this.problems = problems.slice(0, 100)
  }
}

/** An option passed to `createOutbox()` (or read from the configuration) is invalid. */
export class ConfigError extends OutboxError {
  /** The option that is wrong, e.g. `upstream` or `retry.maxDelay`. */
  readonly key: string
  /** Every problem found, one line each, each naming its option (just the message if one). */
  readonly problems: readonly string[]

  constructor(
    key: string,
    message: string,
    options?: { cause?: unknown; code?: ErrorCode; problems?: readonly string[] },
  ) {
    super(options?.code ?? ErrorCodes.INVALID_CONFIG, message, options)
    this.name = 'ConfigError'
    this.key = key
    this.problems = Object.freeze([...(options?.problems ?? [message])])
  }
}

/** The store could not be reached or failed to commit; whatever was being written was not stored. */
export class StoreUnavailableError extends OutboxError {
  constructor(message: string, options?: { cause?: unknown; code?: ErrorCode }) {
    super(options?.code ?? ErrorCodes.STORE_UNAVAILABLE, message, options)
    this.name = 'StoreUnavailableError'
  }
}

/** No message has the given queue id. */
export class MessageNotFoundError extends OutboxError {
  /** The queue id that was asked for. */
  readonly id: string

  constructor(id: string) {
    super(
      ErrorCodes.MESSAGE_NOT_FOUND,
      `No message with id ${JSON.stringify(id)} in the queue. List ids with \`outbox list\`.`,
    )
    this.name = 'MessageNotFoundError'
    this.id = id
  }
}

/**
 * No template by that name, or not in that language (and no fallback applied). Nothing was
 * stored. `field` is `template` (no such template) or `language` (not in that language).
 */
export class TemplateNotFoundError extends InvalidMessageError {
  readonly template: string
  readonly language: string | null

  constructor(template: string, language: string | null, message: string) {
    super(language === null ? 'template' : 'language', message, {
      code: ErrorCodes.TEMPLATE_NOT_FOUND,
    })
    this.name = 'TemplateNotFoundError'
    this.template = template
    this.language = language
  }
}

/**
 * A template part does not parse. `field` names the part (`subject`, `html`, `text`, or
 * `templates.welcome.de.html` and so on where it helps); `line` and `column` are 1-based, in that part.
 */
export class TemplateSyntaxError extends InvalidMessageError {
  readonly line: number | null
  readonly column: number | null

  constructor(
    field: string,
    message: string,
    position: { line: number | null; column: number | null },
    options?: { cause?: unknown },
  ) {
    super(field, message, { ...options, code: ErrorCodes.TEMPLATE_SYNTAX })
    this.name = 'TemplateSyntaxError'
    this.line = position.line
    this.column = position.column
  }
}

/**
 * A template could not be rendered with the context given: `field` is `context.<variable>` for a
 * missing variable (strict mode: never an empty string), or the part that failed. Nothing was stored.
 */
export class TemplateRenderError extends InvalidMessageError {
  constructor(field: string, message: string, options?: { cause?: unknown }) {
    super(field, message, { ...options, code: ErrorCodes.TEMPLATE_RENDER })
    this.name = 'TemplateRenderError'
  }
}

/** Quotes a received value for an error message: what it was and of which type. */
/**
 * The HTTP API refused a request before running it: no or a wrong token (`OUTBOX_UNAUTHORIZED`),
 * or a browser request from another site or host name (`OUTBOX_FORBIDDEN`).
 */
export class AccessDeniedError extends OutboxError {
  constructor(code: typeof ErrorCodes.UNAUTHORIZED | typeof ErrorCodes.FORBIDDEN, message: string) {
    super(code, message)
    this.name = 'AccessDeniedError'
  }
}

export function describeValue(value: unknown): string {
  let shown: string
  try {
    // Numbers as written: JSON would show NaN and Infinity as `null`.
    shown =
      typeof value === 'string'
        ? JSON.stringify(value)
        : typeof value === 'number'
          ? String(value)
          : String(JSON.stringify(value))
  } catch {
    shown = String(value)
  }
  if (shown.length > 60) shown = `${shown.slice(0, 57)}...`
  const type = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value
  return `\`${shown}\` (${type})`
}
