/** `26214400` → `25 MB`: sizes in messages people read (binary multiples, as mail servers use). */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${Number((bytes / 1024).toFixed(1))} KB`
  return `${Number((bytes / 1024 / 1024).toFixed(1))} MB`
}
