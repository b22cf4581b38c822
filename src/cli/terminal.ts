/**
 * What the `outbox` command prints for people. Subjects, addresses and upstream replies come
 * from strangers: printed raw, an escape sequence in a subject could clear the operator's
 * screen, retitle the window or hide text. Control characters are shown as escapes instead
 * (`\x1b`, `\u202e`); `--json` output is left exact.
 */

/**
 * C0 controls, DEL, C1 controls (0x9b is a CSI of its own on some terminals) and the Unicode
 * bidirectional controls that reorder what is displayed.
 */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g

/** `text` with every control character written as an escape, except those in `keep`. */
export function printable(text: string, keep = ''): string {
  return text.replace(CONTROLS, (c) => {
    if (keep.includes(c)) return c
    const code = c.charCodeAt(0)
    return code < 0x100
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`
  })
}

/** Prints lines for people on stdout: newlines kept, every other control shown escaped. */
export function printOut(text: string): void {
  process.stdout.write(printable(text, '\n'))
}

/** Prints a message for people on stderr, prefixed `outbox: `. */
export function printError(text: string): void {
  process.stderr.write(`outbox: ${printable(text, '\n')}\n`)
}
