// Strong ETags for bodies that are the same bytes for a while (a QR code, a page at an end state), so a client
// that already has them is answered 304 with no body.
import { createHash } from 'node:crypto'

/** The body's strong ETag: a truncated SHA-256, quoted. */
export function strongEtag(body: Buffer): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`
}

/** If-None-Match against our strong ETag; weak comparison, as RFC 9110 asks for GET. */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false
  if (ifNoneMatch.trim() === '*') return true
  return ifNoneMatch.split(',').some((candidate) => candidate.trim().replace(/^W\//, '') === etag)
}
