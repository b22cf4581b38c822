/** Cursors of newest-first listings, shared by every store. */
/** Opaque cursor of a newest-first listing: the creation time and id of the last row shown. */
export function encodeCursor(createdAt: number, id: string): string {
  return Buffer.from(`${createdAt}:${id}`).toString('base64url')
}

export function decodeCursor(cursor: string): { createdAt: number; id: string } | null {
  const [time, id] = Buffer.from(cursor, 'base64url').toString().split(':')
  const createdAt = Number(time)
  return Number.isFinite(createdAt) && id ? { createdAt, id } : null
}
