const CR = 0x0d
const LF = 0x0a

/**
 * Rewrites bare LF and bare CR as CRLF, the only line ending SMTP knows. Stored bytes are then
 * exactly the bytes on the wire, and a `\n.\r\n` sequence can never end a message early at a
 * server that reads bare LF as a line break (SMTP smuggling). Returns the input itself when it
 * is already canonical.
 */
export function toCrlf(input: Buffer): Buffer {
  let bare = 0
  for (let i = 0; i < input.length; i++) {
    const byte = input[i]
    if (byte === LF && (i === 0 || input[i - 1] !== CR)) bare++
    else if (byte === CR && input[i + 1] !== LF) bare++
  }
  if (bare === 0) return input
  const output = Buffer.allocUnsafe(input.length + bare)
  let o = 0
  for (let i = 0; i < input.length; i++) {
    const byte = input[i]!
    if (byte === LF && (i === 0 || input[i - 1] !== CR)) {
      output[o++] = CR
      output[o++] = LF
    } else if (byte === CR && input[i + 1] !== LF) {
      output[o++] = CR
      output[o++] = LF
    } else {
      output[o++] = byte
    }
  }
  return output
}
