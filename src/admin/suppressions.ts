import { describeValue, InvalidImportError, InvalidMessageError } from '../errors.js'
import type { ImportProblem } from '../errors.js'
import { isValidAddress } from '../message/validate-mail.js'
import {
  SUPPRESSION_REASONS,
  type Store,
  type SuppressionInput,
  type SuppressionPage,
  type SuppressionReason,
} from '../store/store.js'
import { csvLine, csvRecords, unguardField } from './suppression-csv.js'

/** What `add` did: the addresses (normalised) put on the list, and those already on it. */
export interface SuppressAddResult {
  added: string[]
  /** Already on the list: left as they were (their reason and reply kept). */
  existing: string[]
}

/** What `remove` did, address by address (normalised). */
export interface SuppressRemoveResult {
  removed: string[]
  /** Were not on the list. */
  notFound: string[]
}

/** What `import` did. */
export interface SuppressImportResult {
  /** Address records read (header, blank and comment lines not counted). */
  records: number
  /** Put on the list. */
  added: number
  /** Already on the list: left as they were. */
  existing: number
  /** Records repeating an address seen earlier in the same import. */
  duplicates: number
  /** Bad lines left out (only with `skipInvalid`; otherwise a bad line stores nothing). */
  skipped: ImportProblem[]
}

/** Options of {@link SuppressionAdmin.import}. */
export interface SuppressImportOptions {
  /** Reason of the records that have no `reason` column. @default 'manual' */
  reason?: SuppressionReason
  /** Note of the records that have no `reply` column. @default null */
  reply?: string | null
  /** Store the good lines and report the bad ones, instead of storing nothing. @default false */
  skipInvalid?: boolean
}

/** Formats of {@link SuppressionAdmin.export}. */
export type SuppressExportFormat = 'csv' | 'json'

/**
 * The suppression list as operators manage it (CLI, HTTP API, dashboard). Addresses are
 * trimmed and lower-cased; bad input is an `InvalidMessageError` naming the field, and then
 * nothing is stored.
 */
export interface SuppressionAdmin {
  /** A page of the list in address order, optionally only addresses containing `search`. */
  list(query?: {
    search?: string
    limit?: number
    cursor?: string | null
  }): Promise<SuppressionPage>
  /** How many entries there are (containing `search`, if given). */
  count(search?: string): Promise<number>
  /** Puts addresses on the list (reason `manual` unless told); those already on it are kept. */
  add(
    addresses: readonly string[],
    options?: { reason?: SuppressionReason; reply?: string | null },
  ): Promise<SuppressAddResult>
  /** Takes addresses off the list, and says which were not on it. */
  remove(addresses: readonly string[]): Promise<SuppressRemoveResult>
  /**
   * Adds the addresses of a file: one address per line, or a CSV whose header names an
   * `address` (or `email`) column and optionally `reason` and `reply` (or `note`) and `message`
   * columns (other columns are ignored, so an export imports as it is). Blank lines and lines
   * starting with `#` are skipped. Every line is checked before anything is stored: a bad line
   * throws {@link InvalidImportError} naming each bad line, unless `skipInvalid`.
   */
  import(
    source: string | AsyncIterable<string | Uint8Array>,
    options?: SuppressImportOptions,
  ): Promise<SuppressImportResult>
  /**
   * The whole list (or the addresses containing `search`), line by line: CSV with a header
   * `address,reason,reply,message,created_at`, or JSON lines.
   */
  export(options?: { format?: SuppressExportFormat; search?: string }): AsyncIterable<string>
}

/** Addresses per store call. */
const CHUNK = 1000
/** Most records one import holds (all are checked before any is stored). */
const MAX_IMPORT = 1_000_000
const MAX_REPLY = 1000
const MAX_SEARCH = 320

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK))
  return out
}

/** An address as the list keeps it: trimmed, NFC, lower-cased. */
export function normaliseAddress(address: string): string {
  return address.trim().normalize('NFC').toLowerCase()
}

/** Why `value` cannot go on the list, or null when it can. */
function addressProblem(value: unknown): string | null {
  if (typeof value !== 'string') return `expected an address string, got ${describeValue(value)}`
  const address = normaliseAddress(value)
  if (address === '') return 'the address is empty'
  if (!isValidAddress(address)) return `${JSON.stringify(address)} is not an address (local@domain)`
  return null
}

function reasonProblem(value: unknown): string | null {
  return SUPPRESSION_REASONS.includes(value as SuppressionReason)
    ? null
    : `reason ${typeof value === 'string' ? JSON.stringify(value) : describeValue(value)} is not one of ${SUPPRESSION_REASONS.join(', ')}`
}

/** An operator's note or a remote reply: one line of text, at most 1000 characters. */
function replyProblem(value: unknown): string | null {
  if (value === null || value === undefined) return null
  if (typeof value !== 'string') return `the note must be text, got ${describeValue(value)}`
  if (value.length > MAX_REPLY) return `the note is longer than ${MAX_REPLY} characters`
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) return 'the note must be one line of plain text'
  return null
}

const emptyToNull = (text: string | null | undefined) =>
  text === undefined || text === null || text.trim() === '' ? null : text.trim()

function check(field: string, problem: string | null, what: string): void {
  if (problem !== null) {
    throw new InvalidMessageError(field, `\`${field}\`: ${problem}. Nothing was ${what}.`)
  }
}

/** Text chunks of a string, or of a stream of text or bytes (UTF-8; a BOM is dropped). */
async function* textOf(
  source: string | AsyncIterable<string | Uint8Array>,
): AsyncGenerator<string> {
  if (typeof source === 'string') {
    yield source.replace(/^\uFEFF/, '')
    return
  }
  const decoder = new TextDecoder('utf-8', { fatal: true })
  const decode = (bytes?: Uint8Array) => {
    try {
      return bytes ? decoder.decode(bytes, { stream: true }) : decoder.decode()
    } catch (error) {
      throw new InvalidMessageError(
        'file',
        'The import is not UTF-8 text; save it as UTF-8 (CSV UTF-8) and import again. Nothing was stored.',
        { cause: error },
      )
    }
  }
  let first = true
  for await (const chunk of source) {
    let text = typeof chunk === 'string' ? chunk : decode(chunk)
    if (first) text = text.replace(/^\uFEFF/, '')
    first = false
    yield text
  }
  yield decode()
}

/** The columns of an import: which field holds what. */
interface Columns {
  address: number
  reason: number | null
  reply: number | null
  message: number | null
}

const HEADER_NAMES: Record<keyof Columns, string[]> = {
  address: ['address', 'email', 'e-mail', 'email address'],
  reason: ['reason'],
  reply: ['reply', 'note'],
  message: ['message', 'message_id', 'messageid'],
}

/** The columns a header row names, or null when the row is not a header. */
function headerColumns(fields: string[]): Columns | null {
  const names = fields.map((f) => f.trim().toLowerCase())
  const find = (key: keyof Columns) => {
    const index = names.findIndex((n) => HEADER_NAMES[key].includes(n))
    return index === -1 ? null : index
  }
  const address = find('address')
  if (address === null) return null
  return { address, reason: find('reason'), reply: find('reply'), message: find('message') }
}

export function createSuppressionAdmin(store: Store): SuppressionAdmin {
  /** Stores the entries not on the list yet; returns how many were new and how many known. */
  async function addNew(
    entries: SuppressionInput[],
  ): Promise<{ added: string[]; existing: string[] }> {
    const added: string[] = []
    const existing: string[] = []
    for (const chunk of chunks(entries)) {
      const known = new Set(
        (await store.findSuppressions(chunk.map((e) => e.address))).map((s) => s.address),
      )
      const fresh = chunk.filter((e) => !known.has(e.address))
      if (fresh.length > 0) await store.suppress(fresh)
      for (const e of chunk) (known.has(e.address) ? existing : added).push(e.address)
    }
    return { added, existing }
  }

  function checkSearch(search: unknown): string | undefined {
    if (search === undefined || search === null) return undefined
    if (typeof search !== 'string' || search.length > MAX_SEARCH) {
      throw new InvalidMessageError(
        'search',
        `\`search\` must be text of at most ${MAX_SEARCH} characters, got ${describeValue(search)}.`,
      )
    }
    const text = normaliseAddress(search)
    return text === '' ? undefined : text
  }

  return {
    async list(query = {}) {
      const limit = query.limit ?? 50
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
        throw new InvalidMessageError(
          'limit',
          `\`limit\` must be a whole number from 1 to 1000, got ${describeValue(limit)}.`,
        )
      }
      const cursor = query.cursor ?? null
      if (cursor !== null && (typeof cursor !== 'string' || cursor.length > 400)) {
        throw new InvalidMessageError(
          'cursor',
          `\`cursor\` ${describeValue(cursor)} is not a cursor a listing gave; list again from the first page.`,
        )
      }
      const search = checkSearch(query.search)
      return store.listSuppressions({
        limit,
        cursor: cursor === null ? null : normaliseAddress(cursor),
        ...(search ? { search } : {}),
      })
    },

    async count(search) {
      const text = checkSearch(search)
      return (await store.listSuppressions({ limit: 1, ...(text ? { search: text } : {}) })).total
    },

    async add(addresses, options = {}) {
      if (!Array.isArray(addresses) || addresses.length === 0) {
        throw new InvalidMessageError('addresses', 'Name at least one address to suppress.')
      }
      const reason = options.reason ?? 'manual'
      check('reason', reasonProblem(reason), 'added')
      check('reply', replyProblem(options.reply), 'added')
      addresses.forEach((a, i) => check(`addresses[${i}]`, addressProblem(a), 'added'))
      const reply = emptyToNull(options.reply)
      const unique = [...new Set(addresses.map(normaliseAddress))]
      return addNew(unique.map((address) => ({ address, reason, reply, messageId: null })))
    },

    async remove(addresses) {
      if (!Array.isArray(addresses) || addresses.length === 0) {
        throw new InvalidMessageError('addresses', 'Name at least one address to remove.')
      }
      // Not held to the address syntax: whatever is on the list can be taken off it.
      addresses.forEach((a, i) => {
        if (typeof a !== 'string' || a.trim() === '' || a.length > 1000) {
          throw new InvalidMessageError(
            `addresses[${i}]`,
            `\`addresses[${i}]\` must be a non-empty address, got ${describeValue(a)}. Nothing was removed.`,
          )
        }
      })
      const unique = [...new Set(addresses.map(normaliseAddress))]
      const removed: string[] = []
      for (const chunk of chunks(unique)) {
        const known = new Set((await store.findSuppressions(chunk)).map((s) => s.address))
        if (known.size > 0) await store.unsuppress([...known])
        removed.push(...chunk.filter((a) => known.has(a)))
      }
      const gone = new Set(removed)
      return { removed, notFound: unique.filter((a) => !gone.has(a)) }
    },

    async import(source, options = {}) {
      const defaultReason = options.reason ?? 'manual'
      check('reason', reasonProblem(defaultReason), 'stored')
      check('reply', replyProblem(options.reply), 'stored')
      const defaultReply = emptyToNull(options.reply)

      const entries = new Map<string, SuppressionInput>()
      const problems: ImportProblem[] = []
      let badLines = 0
      let records = 0
      let duplicates = 0
      let columns: Columns | null | undefined // undefined: first record not read yet
      const problem = (line: number, message: string) => {
        badLines++
        if (problems.length < (options.skipInvalid ? 1000 : 100)) problems.push({ line, message })
      }

      for await (const { line, fields } of csvRecords(textOf(source))) {
        if (columns === undefined) {
          columns = headerColumns(fields)
          if (columns) continue
          if (fields.length > 1) {
            throw new InvalidMessageError(
              `line ${line}`,
              `line ${line}: a CSV file needs a header row naming an \`address\` (or \`email\`) column, ` +
                'optionally `reason` and `reply`; or give one address per line. Nothing was stored.',
            )
          }
        }
        records++
        if (records > MAX_IMPORT) {
          throw new InvalidMessageError(
            `line ${line}`,
            `The import has more than ${MAX_IMPORT} addresses; split it into smaller files. Nothing was stored.`,
          )
        }
        const at = (index: number | null | undefined) =>
          index === null || index === undefined ? undefined : unguardField(fields[index] ?? '')
        const rawAddress = at(columns?.address ?? 0) ?? ''
        const rawReason = emptyToNull(at(columns?.reason))
        const rawReply = at(columns?.reply)
        const rawMessage = emptyToNull(at(columns?.message))
        const failure =
          addressProblem(rawAddress) ??
          (rawReason === null ? null : reasonProblem(rawReason.toLowerCase())) ??
          replyProblem(rawReply) ??
          (rawMessage !== null && (rawMessage.length > 100 || /[\s\x00-\x1f]/.test(rawMessage))
            ? `message ${describeValue(rawMessage)} is not a queue id`
            : null)
        if (failure !== null) {
          problem(line, failure)
          continue
        }
        const address = normaliseAddress(rawAddress)
        if (entries.has(address)) {
          duplicates++
          continue
        }
        entries.set(address, {
          address,
          reason: (rawReason?.toLowerCase() as SuppressionReason | undefined) ?? defaultReason,
          reply: rawReply === undefined ? defaultReply : emptyToNull(rawReply),
          messageId: rawMessage,
        })
      }
      if (badLines > 0 && !options.skipInvalid) throw new InvalidImportError(problems, badLines)
      const { added, existing } = await addNew([...entries.values()])
      return {
        records,
        added: added.length,
        existing: existing.length,
        duplicates,
        skipped: problems,
      }
    },

    export(options = {}) {
      const format = options.format ?? 'csv'
      if (format !== 'csv' && format !== 'json') {
        throw new InvalidMessageError(
          'format',
          `\`format\` must be csv or json, got ${describeValue(format)}.`,
        )
      }
      const search = checkSearch(options.search)
      return (async function* () {
        if (format === 'csv') yield csvLine(['address', 'reason', 'reply', 'message', 'created_at'])
        let cursor: string | null = null
        do {
          const page: SuppressionPage = await store.listSuppressions({
            limit: CHUNK,
            cursor,
            ...(search ? { search } : {}),
          })
          for (const e of page.entries) {
            const createdAt = e.createdAt.toISOString()
            yield format === 'csv'
              ? csvLine([e.address, e.reason, e.reply, e.messageId, createdAt])
              : `${JSON.stringify({ address: e.address, reason: e.reason, reply: e.reply, messageId: e.messageId, createdAt })}\n`
          }
          cursor = page.nextCursor
        } while (cursor !== null)
      })()
    },
  }
}
