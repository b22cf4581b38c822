import { isIP } from 'node:net'
import { ConfigError } from '../errors.js'

/** Splits `host:port` / `[v6]:port`; `key` names the setting in the error. */
export function parseListenAddress(text: string, key = 'listen'): { host: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(text.trim())
  if (!match || Number(match[2]) > 65535) {
    throw new ConfigError(
      key,
      `${key} ${JSON.stringify(text)} is not host:port, such as 127.0.0.1:8025.`,
    )
  }
  return { host: match[1]!, port: Number(match[2]) }
}

/** Whether a listen host only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase()
  if (h === 'localhost' || h === '::1') return true
  return isIP(h) === 4 && h.startsWith('127.')
}

/** `host:port` as a URL authority: IPv6 hosts in brackets. */
export function hostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`
}
