/** RFC 5322 date-time in UTC, e.g. `Tue, 01 Dec 2026 10:00:00 +0000`, for Date and Received headers. */
export function rfc5322Date(date: Date): string {
  return date.toUTCString().replace('GMT', '+0000')
}
