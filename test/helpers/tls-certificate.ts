import { execFileSync } from 'node:child_process'
import { join } from 'node:path'

/** A self-signed certificate for 127.0.0.1 / localhost, made with openssl. */
export function selfSignedCertificate(dir: string): { key: string; cert: string } {
  const key = join(dir, 'tls.key')
  const cert = join(dir, 'tls.crt')
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  )
  return { key, cert }
}
