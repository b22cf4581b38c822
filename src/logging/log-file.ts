import { closeSync, mkdirSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import type { Writable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { createStream } from 'rotating-file-stream'
import { ConfigError } from '../errors.js'

/** Where a log file goes and how it is rotated. */
export interface LogFileOptions {
  path: string
  /** Rotated once it holds this many bytes (a line is never split: it may end a little past). */
  maxSize: number
  /** Files kept, the current one included (2 or more). */
  maxFiles: number
  /** The configuration key naming the path, for the error message (`log.file`). */
  key: string
  /** Called once if the file cannot be written any more (disk full, folder removed). */
  onError?: (error: Error) => void
}

/** An open, rotating log file. */
export interface LogFile {
  /** Takes whole lines: each `write()` lands in one file, never split by a rotation. */
  readonly stream: Writable
  /** Writes what is buffered, then closes the file. Never rejects. */
  close(): Promise<void>
}

/** New folders: the owner writes, the group (`adm`, a log reader) reads, others nothing. */
const FOLDER_MODE = 0o750
const FILE_MODE = 0o640

/** What the usual errors mean for a log path, in the operator's words. */
const WHY: Record<string, string> = {
  EEXIST: 'part of the path is a file, not a folder',
  ENOTDIR: 'part of the path is a file, not a folder',
  EISDIR: 'it is a folder',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'the file system is read-only',
}

/**
 * Opens a log file rotated the way logrotate and Python's RotatingFileHandler do it:
 * `outbox.log` is written, `outbox.log.1` is the newest rotated one, up to
 * `outbox.log.<maxFiles - 1>`. Throws `ConfigError` if the file cannot be opened.
 *
 * Lines written during a rotation wait in the stream's buffer, so none is lost or torn.
 * One process per file: two processes rotating the same file would rename it under each other.
 */
export function openLogFile(options: LogFileOptions): LogFile {
  // Opened once here, synchronously, so a bad path stops the command at start with one clear
  // line instead of an error event from the stream later. This also gives the folder and the
  // file their modes: the library creates both with the process's defaults.
  try {
    mkdirSync(dirname(options.path), { recursive: true, mode: FOLDER_MODE })
    closeSync(openSync(options.path, 'a', FILE_MODE))
  } catch (error) {
    const why = WHY[(error as NodeJS.ErrnoException).code ?? '']
    throw new ConfigError(
      options.key,
      `cannot open ${options.key} ${options.path}: ${why ? `${why} (${(error as Error).message})` : (error as Error).message}`,
      { cause: error },
    )
  }
  const stream = createStream(options.path, {
    // Bytes, as the library's size unit suffix wants.
    size: `${options.maxSize}B`,
    rotate: options.maxFiles - 1,
    mode: FILE_MODE,
  })
  let failed = false
  // Without a listener an error event would end the process: delivery matters more than its log.
  stream.on('error', (error: Error) => {
    if (failed) return
    failed = true
    options.onError?.(error)
  })
  return {
    stream,
    async close() {
      if (stream.destroyed) return
      stream.end()
      await finished(stream).catch(() => {})
    },
  }
}
