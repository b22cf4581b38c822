import { describeValue, InvalidMessageError } from '../errors.js'

/**
 * A template's name: a letter or digit first, then letters, digits, `.`, `_` and `-`, 100 at
 * most, not ending in a dot. No `/`: a name is safe as a file name, a URL segment and a CLI word.
 */
const TEMPLATE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/

/** A BCP 47-like tag as written by people: `de`, `de-AT`, `zh-Hant-TW`, `de_AT`. */
const LANGUAGE_TAG = /^[a-z]{2,3}(?:-[a-z0-9]{2,8})*$/i

/** Longest language tag accepted; real ones are far shorter, this only bounds the input. */
const MAX_LANGUAGE_LENGTH = 35

/**
 * Checks a template name and returns it. Throws an {@link InvalidMessageError} naming `field`
 * (`name` when storing a template, `template` when sending with one).
 *
 * @example checkTemplateName('order-shipped') // 'order-shipped'
 */
export function checkTemplateName(name: unknown, field = 'name'): string {
  if (typeof name !== 'string' || !TEMPLATE_NAME.test(name) || name.endsWith('.')) {
    throw new InvalidMessageError(
      field,
      `\`${field}\` must be a template name: a letter or digit, then up to 99 letters, digits, ` +
        `\`.\`, \`_\` or \`-\` (not ending in \`.\`, no \`/\`), got ${describeValue(name)}.`,
    )
  }
  return name
}

/**
 * Checks a language tag and returns its normal form, so that one language is stored and looked
 * up under one spelling: `_` becomes `-`, the language is lower case, a script title case and a
 * region upper case (`DE_at` → `de-AT`, `zh-hant-tw` → `zh-Hant-TW`), other subtags lower case.
 * The tag must also be well-formed for `Intl` (the formatting filters use it). Throws an
 * {@link InvalidMessageError} naming `field`.
 *
 * @example normaliseLanguage('de_AT') // 'de-AT'
 */
export function normaliseLanguage(language: unknown, field = 'language'): string {
  const refuse = (): never => {
    throw new InvalidMessageError(
      field,
      `\`${field}\` must be a language tag such as \`en\`, \`de\` or \`de-AT\`, got ${describeValue(language)}.`,
    )
  }
  if (typeof language !== 'string' || language.length > MAX_LANGUAGE_LENGTH) return refuse()
  const tag = language.replaceAll('_', '-')
  if (!LANGUAGE_TAG.test(tag)) return refuse()
  const [primary = '', ...rest] = tag.split('-')
  const normal = [primary.toLowerCase()]
  let scriptSeen = false
  for (const [index, subtag] of rest.entries()) {
    // The script may only come first, the region first or after the script (RFC 5646 §2.1).
    if (index === 0 && /^[a-z]{4}$/i.test(subtag)) {
      normal.push(subtag[0]!.toUpperCase() + subtag.slice(1).toLowerCase())
      scriptSeen = true
    } else if (
      (index === 0 || (index === 1 && scriptSeen)) &&
      /^(?:[a-z]{2}|\d{3})$/i.test(subtag)
    ) {
      normal.push(subtag.toUpperCase())
    } else {
      normal.push(subtag.toLowerCase())
    }
  }
  const result = normal.join('-')
  try {
    Intl.getCanonicalLocales(result)
  } catch {
    return refuse()
  }
  return result
}
