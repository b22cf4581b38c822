import type { Context, Liquid } from 'liquidjs'

import { describeValue } from '../errors.js'

/** Where a rendering keeps its language, in the Liquid context's registers (not reachable from a template). */
export const LANGUAGE_REGISTER = 'outbox:language'

/** The styles of `Intl.DateTimeFormat`'s `dateStyle` and `timeStyle`. */
const DATE_STYLES = ['short', 'medium', 'long', 'full'] as const
type DateStyle = (typeof DATE_STYLES)[number]

/** What a filter sees as `this`: the rendering's context, which carries the language. */
interface FilterThis {
  context: Context
}

function languageOf(filter: FilterThis): string {
  const language: unknown = filter.context.getRegister(LANGUAGE_REGISTER)
  return typeof language === 'string' ? language : 'en'
}

// Building an Intl formatter costs far more than using one; a rendering calls the same few many times.
const formatters = new Map<string, Intl.DateTimeFormat | Intl.NumberFormat>()
const MAX_FORMATTERS = 500

function cached<T extends Intl.DateTimeFormat | Intl.NumberFormat>(key: string, make: () => T): T {
  const found = formatters.get(key)
  if (found) return found as T
  const made = make()
  if (formatters.size >= MAX_FORMATTERS) formatters.clear()
  formatters.set(key, made)
  return made
}

function toDate(name: string, value: unknown): Date {
  const date =
    value instanceof Date
      ? value
      : typeof value === 'number' || (typeof value === 'string' && value.trim() !== '')
        ? new Date(value)
        : null
  if (date === null || Number.isNaN(date.getTime())) {
    throw new Error(
      `${name}: expected a date (a Date, an ISO 8601 string or milliseconds since 1970), got ${describeValue(value)}`,
    )
  }
  return date
}

function toNumber(name: string, value: unknown): number {
  const number =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && value.trim() !== ''
        ? Number(value)
        : NaN
  if (!Number.isFinite(number)) {
    throw new Error(`${name}: expected a number, got ${describeValue(value)}`)
  }
  return number
}

function toStyle(name: string, style: unknown): DateStyle {
  if (!DATE_STYLES.includes(style as DateStyle)) {
    throw new Error(
      `${name}: the style must be one of ${DATE_STYLES.map((s) => `'${s}'`).join(', ')}, got ${describeValue(style)}`,
    )
  }
  return style as DateStyle
}

function dateFormatter(
  name: string,
  language: string,
  options: { dateStyle?: DateStyle; timeStyle?: DateStyle },
  timeZone: unknown,
): Intl.DateTimeFormat {
  if (typeof timeZone !== 'string') {
    throw new Error(
      `${name}: the time zone must be a name such as 'Europe/Berlin', got ${describeValue(timeZone)}`,
    )
  }
  const key = `date\0${language}\0${options.dateStyle}\0${options.timeStyle}\0${timeZone}`
  try {
    return cached(key, () => new Intl.DateTimeFormat(language, { ...options, timeZone }))
  } catch {
    throw new Error(
      `${name}: unknown time zone ${describeValue(timeZone)}; use a name such as 'Europe/Berlin' or 'UTC'`,
    )
  }
}

/**
 * `{{ order.date | format_date: 'long' }}`: a date in the rendering's language. The value may be
 * a Date, an ISO 8601 string or milliseconds; the style `short`, `medium` (default), `long` or
 * `full`; the second argument a time zone (default `UTC`): `format_date: 'long', 'Europe/Berlin'`.
 */
function formatDate(
  this: FilterThis,
  value: unknown,
  style: unknown = 'medium',
  timeZone: unknown = 'UTC',
) {
  const dateStyle = toStyle('format_date', style)
  const date = toDate('format_date', value)
  return dateFormatter('format_date', languageOf(this), { dateStyle }, timeZone).format(date)
}

/** `{{ order.date | format_datetime: 'short', 'Europe/Berlin' }}`: like `format_date`, with the time of day. */
function formatDateTime(
  this: FilterThis,
  value: unknown,
  style: unknown = 'medium',
  timeZone: unknown = 'UTC',
) {
  const dateStyle = toStyle('format_datetime', style)
  const date = toDate('format_datetime', value)
  return dateFormatter(
    'format_datetime',
    languageOf(this),
    { dateStyle, timeStyle: dateStyle },
    timeZone,
  ).format(date)
}

/**
 * `{{ total | format_number }}`: a number with the language's separators (`1,234.5` in `en`,
 * `1.234,5` in `de`), at most three decimals; `format_number: 2` shows exactly two.
 */
function formatNumber(this: FilterThis, value: unknown, fractionDigits?: unknown) {
  const number = toNumber('format_number', value)
  const language = languageOf(this)
  if (fractionDigits === undefined) {
    return cached(`number\0${language}`, () => new Intl.NumberFormat(language)).format(number)
  }
  if (
    !Number.isInteger(fractionDigits) ||
    (fractionDigits as number) < 0 ||
    (fractionDigits as number) > 20
  ) {
    throw new Error(
      `format_number: the decimals must be a whole number from 0 to 20, got ${describeValue(fractionDigits)}`,
    )
  }
  const digits = fractionDigits as number
  return cached(
    `number\0${language}\0${digits}`,
    () =>
      new Intl.NumberFormat(language, {
        minimumFractionDigits: digits,
        maximumFractionDigits: digits,
      }),
  ).format(number)
}

/** `{{ total | format_currency: 'EUR' }}`: an amount in an ISO 4217 currency, as the language writes it (`1.234,50 €` in `de`). */
function formatCurrency(this: FilterThis, value: unknown, currency?: unknown) {
  const number = toNumber('format_currency', value)
  if (typeof currency !== 'string' || !/^[A-Za-z]{3}$/.test(currency)) {
    throw new Error(
      `format_currency: name the currency by its ISO 4217 code, e.g. format_currency: 'EUR', got ${describeValue(currency)}`,
    )
  }
  const code = currency.toUpperCase()
  const language = languageOf(this)
  return cached(
    `currency\0${language}\0${code}`,
    () => new Intl.NumberFormat(language, { style: 'currency', currency: code }),
  ).format(number)
}

/** Adds the language-aware formatting filters to an engine. */
export function registerFormatFilters(engine: Liquid): void {
  engine.registerFilter('format_date', formatDate)
  engine.registerFilter('format_datetime', formatDateTime)
  engine.registerFilter('format_number', formatNumber)
  engine.registerFilter('format_currency', formatCurrency)
}
