import type { DeliveryErrorLike, DeliveryStage } from './delivery-stage.js'

/** Node's codes for a server certificate that failed verification, by what to tell the operator. */
const CERTIFICATE_CODES: Readonly<Record<string, 'expired' | 'untrusted' | 'name'>> = {
  CERT_HAS_EXPIRED: 'expired',
  CERT_NOT_YET_VALID: 'expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'untrusted',
  SELF_SIGNED_CERT_IN_CHAIN: 'untrusted',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'untrusted',
  UNABLE_TO_GET_ISSUER_CERT: 'untrusted',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'untrusted',
  CERT_UNTRUSTED: 'untrusted',
  CERT_REJECTED: 'untrusted',
  CERT_REVOKED: 'untrusted',
  CERT_SIGNATURE_FAILURE: 'untrusted',
  CERT_CHAIN_TOO_LONG: 'untrusted',
  INVALID_CA: 'untrusted',
  INVALID_PURPOSE: 'untrusted',
  PATH_LENGTH_EXCEEDED: 'untrusted',
  UNABLE_TO_DECRYPT_CERT_SIGNATURE: 'untrusted',
  UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY: 'untrusted',
  ERR_TLS_CERT_ALTNAME_INVALID: 'name',
  ERR_TLS_CERT_ALTNAME_FORMAT: 'name',
  HOSTNAME_MISMATCH: 'name',
}

const TESTING_ONLY = '?tls.rejectUnauthorized=false accepts any certificate (for testing only)'

/**
 * Why a failure is the configuration's fault rather than an outage's or the message's, with
 * what to do about it, or null when it is not. Pure. Such failures never go away by waiting:
 * delivery pauses (no message is blamed) and the reason is shown loudly until it is fixed.
 */
export function misconfiguration(
  error: DeliveryErrorLike,
  stage: DeliveryStage,
  code: number | null,
): string | null {
  const errCode = typeof error.code === 'string' ? error.code : ''
  const original = typeof error.originalCode === 'string' ? error.originalCode : ''
  const systemCode = CERTIFICATE_CODES[original]
    ? original
    : CERTIFICATE_CODES[errCode]
      ? errCode
      : ''
  const what = (text: string, tag: string) => `upstream misconfigured: ${text} (${tag})`

  switch (CERTIFICATE_CODES[systemCode]) {
    case 'expired':
      return `${what("the server's TLS certificate is expired or not yet valid", systemCode)}. Renew the certificate on the server; ?ignoreTLS=true sends without STARTTLS; ${TESTING_ONLY}.`
    case 'untrusted':
      return `${what("the server's TLS certificate is not signed by an authority this machine trusts", systemCode)}. Give the server a certificate from a public authority, or pass its CA in the upstream options (tls.ca); ${TESTING_ONLY}.`
    case 'name':
      return `${what("the server's TLS certificate is for another host name", systemCode)}. Use the host name the certificate names in the upstream URL (tls.servername overrides it); ${TESTING_ONLY}.`
  }
  const sslCode = [original, errCode].find((c) => c.startsWith('ERR_SSL_'))
  if (sslCode === 'ERR_SSL_WRONG_VERSION_NUMBER') {
    return `${what('the server does not speak TLS on this port', sslCode)}. Use smtps:// only for implicit TLS (port 465), smtp:// for STARTTLS (ports 587 and 25).`
  }
  if (sslCode) {
    return `${what('the TLS handshake with the server failed', sslCode)}. Check the TLS versions and ciphers the server accepts; ?ignoreTLS=true sends without STARTTLS.`
  }
  if (stage === 'tls' && errCode === 'ETLS' && code !== null && code >= 500) {
    return `${what('the server refuses STARTTLS, which ?requireTLS=true demands', `${code}`)}. Enable STARTTLS on the server, use smtps:// for implicit TLS, or drop requireTLS.`
  }
  // Nodemailer's own check ("Missing credentials for PLAIN") fails as EAUTH on API.
  if (errCode === 'ENOAUTH' || (errCode === 'EAUTH' && code === null && stage === 'api')) {
    return `${what('the server wants a login and no usable credentials are configured', errCode)}. Put them in the upstream URL: smtp://user:password@host:587.`
  }
  if (stage === 'auth' && code !== null && code >= 500) {
    return `${what('the server refused the login', `${code}`)}. Check the user name and password in the upstream URL (special characters URL-encoded).`
  }
  if (code === 530 && (stage === 'mail' || stage === 'rcpt')) {
    return `${what('the server requires a login (or STARTTLS) before it takes mail', '530')}. Put credentials in the upstream URL: smtp://user:password@host:587.`
  }
  if (errCode === 'ECONFIG') {
    return `${what('Nodemailer refused the upstream options', errCode)}. Check the upstream URL and options.`
  }
  return null
}
