import {
  ConfigError,
  InvalidMessageError,
  OutboxError,
  StoreUnavailableError,
  type ErrorCode,
} from '../../errors.js'

/**
 * How store calls cross between threads. Structured cloning keeps Dates and byte arrays but
 * not Buffer's prototype nor error classes: bytes become Buffers again on arrival (without a
 * copy), and errors travel as their name, code and fields and are rebuilt as the same class.
 */

/** An error as it crosses. */
export interface WireError {
  name: string
  message: string
  code?: string
  field?: string
  key?: string
}

export function toWireError(error: unknown): WireError {
  const e = error as Partial<WireError> & Error
  return {
    name: e?.name ?? 'Error',
    message: e?.message ?? String(error),
    ...(typeof e?.code === 'string' ? { code: e.code } : {}),
    ...(typeof e?.field === 'string' ? { field: e.field } : {}),
    ...(typeof e?.key === 'string' ? { key: e.key } : {}),
  }
}

export function fromWireError(wire: WireError): Error {
  const options = wire.code ? { code: wire.code as ErrorCode } : {}
  switch (wire.name) {
    case 'StoreUnavailableError':
      return new StoreUnavailableError(wire.message, options)
    case 'ConfigError':
      return new ConfigError(wire.key ?? 'store', wire.message, options)
    case 'InvalidMessageError':
      return new InvalidMessageError(wire.field ?? 'message', wire.message, options)
    case 'OutboxError':
      return new OutboxError(wire.code as ErrorCode, wire.message)
    default:
      return new StoreUnavailableError(wire.message)
  }
}

/** A byte array back as a Buffer over the same memory. */
export function asBuffer(bytes: Uint8Array | null | undefined): Buffer | null {
  if (!bytes) return null
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/**
 * The memory of byte arrays that can be handed over rather than copied: those that own all of
 * theirs (a Buffer from Node's pool shares its memory with others and is copied instead).
 */
export function transferable(buffers: readonly (Uint8Array | null)[]): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>()
  for (const b of buffers) {
    if (
      b &&
      b.byteOffset === 0 &&
      b.byteLength === b.buffer.byteLength &&
      b.buffer instanceof ArrayBuffer
    ) {
      out.add(b.buffer)
    }
  }
  return [...out]
}
