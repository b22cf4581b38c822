import { createServer } from 'node:net'

/**
 * A TCP port on 127.0.0.1 that the system handed out and took back: free the moment it is
 * returned (for a server a test starts), and one nothing listens on (for a refused connection).
 */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (!address || typeof address !== 'object') throw new Error('no port')
  return address.port
}
