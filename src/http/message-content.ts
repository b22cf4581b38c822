import type { FastifyReply } from 'fastify'
import PostalMime from 'postal-mime'

/** An attachment as listed in the message detail (its bytes come from the attachment route). */
export interface AttachmentInfo {
  index: number
  filename: string | null
  contentType: string
  size: number
  /** Referenced from the HTML (`cid:`), e.g. an inline image. */
  inline: boolean
}

/** What the dashboard shows of a message's content. */
export interface MessageContent {
  /** Every header in order, decoded; Bcc is never stored, so never shown. */
  headers: { name: string; value: string }[]
  text: string | null
  hasHtml: boolean
  attachments: AttachmentInfo[]
}

type Parsed = Awaited<ReturnType<typeof PostalMime.parse>>

async function parse(raw: Buffer): Promise<Parsed> {
  return PostalMime.parse(raw, { attachmentEncoding: 'arraybuffer' })
}

function bytesOf(content: ArrayBuffer | Uint8Array | string): Buffer {
  if (typeof content === 'string') return Buffer.from(content)
  return content instanceof Uint8Array ? Buffer.from(content) : Buffer.from(content)
}

/** Headers, text body and the list of attachments of stored message bytes. */
export async function readContent(raw: Buffer): Promise<MessageContent> {
  const email = await parse(raw)
  return {
    headers: email.headers.map((h) => ({ name: h.originalKey, value: h.value })),
    text: email.text ?? null,
    hasHtml: typeof email.html === 'string' && email.html.length > 0,
    attachments: email.attachments.map((a, index) => ({
      index,
      filename: a.filename,
      contentType: a.mimeType,
      size: bytesOf(a.content).length,
      inline: a.related === true || (a.disposition === 'inline' && !!a.contentId),
    })),
  }
}

/** One attachment's bytes, or null if there is no attachment at that index. */
export async function readAttachment(
  raw: Buffer,
  index: number,
): Promise<{ filename: string | null; contentType: string; content: Buffer } | null> {
  const attachment = (await parse(raw)).attachments[index]
  if (!attachment) return null
  return {
    filename: attachment.filename,
    contentType: attachment.mimeType,
    content: bytesOf(attachment.content),
  }
}

/**
 * The HTML body with `cid:` images inlined as data: URLs, so the sandboxed frame needs nothing
 * from the server; null if the message has no HTML. The caller serves it under a CSP that
 * forbids scripts and (unless asked) remote images.
 */
export async function readHtml(raw: Buffer): Promise<string | null> {
  const email = await parse(raw)
  if (!email.html) return null
  const byCid = new Map<string, string>()
  for (const a of email.attachments) {
    if (!a.contentId || !a.mimeType.startsWith('image/')) continue
    const cid = a.contentId.replace(/^<|>$/g, '')
    byCid.set(
      cid.toLowerCase(),
      `data:${a.mimeType};base64,${bytesOf(a.content).toString('base64')}`,
    )
  }
  return email.html.replace(/cid:([^"'\s)>]+)/gi, (whole, cid: string) => {
    let key = cid
    try {
      key = decodeURIComponent(cid)
    } catch {
      // A malformed %-escape: look the name up as written.
    }
    return byCid.get(key.toLowerCase()) ?? whole
  })
}

/**
 * Mail HTML is shown in a sandboxed frame: no scripts, no forms, no plugins, nothing from the
 * network unless the operator asks for remote images (tracking pixels otherwise).
 */
export function htmlPolicy(remoteImages: boolean): string {
  const images = remoteImages ? 'data: http: https:' : 'data:'
  return (
    `sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; ` +
    `style-src 'unsafe-inline'; img-src ${images}; font-src data:; frame-ancestors 'self'`
  )
}

/**
 * Sends mail HTML (a message's body, a template's preview) for the dashboard's sandboxed frame,
 * under {@link htmlPolicy}: the page itself is sandboxed by its CSP, however it is opened.
 */
export function sendSandboxedHtml(
  reply: FastifyReply,
  html: string,
  remoteImages: boolean,
): FastifyReply {
  return (
    reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', htmlPolicy(remoteImages))
      .header('x-frame-options', 'SAMEORIGIN')
      .header('referrer-policy', 'no-referrer')
      // Links open in a new tab, not inside the frame.
      .send(`<base target="_blank">${html}`)
  )
}
