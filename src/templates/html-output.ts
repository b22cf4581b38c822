import { compile, type FormatCallback } from 'html-to-text'
import juice from 'juice'

/** An image's alt text, or nothing: a plain-text reader has no use for the image's address. */
const altOnly: FormatCallback = (elem, _walk, builder) => {
  const alt: unknown = (elem.attribs as Record<string, unknown> | undefined)?.alt
  if (typeof alt === 'string' && alt.trim() !== '') builder.addInline(alt.trim())
}

const headings = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((selector) => ({
  selector,
  // Upper-casing is an English typewriter habit; in German it changes how a noun reads.
  options: { uppercase: false },
}))

// Compiled once: html-to-text builds its selector tables per options object.
const toText = compile({
  wordwrap: 78,
  selectors: [
    // `text [url]`; a link whose text is its address appears once.
    { selector: 'a', options: { linkBrackets: ['[', ']'], hideLinkHrefIfSameAsText: true } },
    { selector: 'img', format: 'altOnly' },
    ...headings,
    // Mail uses tables for layout far more than for data: a row is a line, its cells words on it.
    { selector: 'tr', format: 'block', options: { leadingLineBreaks: 1, trailingLineBreaks: 1 } },
    { selector: 'td', format: 'inlineSurround', options: { suffix: ' ' } },
    { selector: 'th', format: 'inlineSurround', options: { suffix: ' ' } },
  ],
  formatters: { altOnly },
})

/**
 * The text part of a message whose template has none, from its rendered HTML: wrapped at 78
 * columns, links as `text [url]`, images as their alt text, a table row as a line, `<head>` left
 * out, at most one blank line in a row.
 */
export function htmlToPlainText(html: string): string {
  // Cells and empty layout blocks leave trailing spaces and runs of blank lines behind.
  return toText(html)
    .replace(/[ \t]+$/gm, '')
    .replace(/\n{3,}/g, '\n\n')
    .trim()
}

/**
 * Moves the rules of the HTML's `<style>` elements into `style` attributes, as mail clients that
 * drop `<style>` (some webmail) need. Media queries stay in a `<style>`. Only the document's own
 * CSS: `juice()` fetches nothing (`juiceResources` would read `<link>`ed files and URLs).
 */
export function inlineStyles(html: string): string {
  return juice(html, { preserveMediaQueries: true, preserveFontFaces: true, removeStyleTags: true })
}

// A line break in a Subject would start a header of the reader's choosing; other control
// characters have no place in a header either. Unicode line separators count as line breaks.
const BREAKS = /\s*[\u0000-\u001f\u007f\u0085\u2028\u2029]+\s*/g

/**
 * A rendered subject as one header-safe line: every run of line breaks, tabs and other control
 * characters (with the spaces around it) becomes one space, and the ends are trimmed.
 */
export function subjectLine(rendered: string): string {
  return rendered.replace(BREAKS, ' ').trim()
}
