// In production, merchant URLs must not reach loopback, private, link-local or other internal addresses
// (SSRF guard). Literal addresses are checked by their bytes, so no IPv6 spelling of an internal IPv4
// address slips through; names are checked at connect time by a lookup that refuses internal answers, so the
// address checked is the address used (no DNS rebinding between check and connect).
import { isIP } from 'node:net'
import { isForbiddenAddress } from './address-guard.js'

export { guardedLookup, ipv6Bytes, isForbiddenAddress } from './address-guard.js'

/** Cheap check without DNS, for request validation: literal internal addresses and local names. */
export function isObviouslyInternal(url: URL): boolean {
  // A trailing dot names the same host (`localhost.` is localhost).
  const host = url.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase()
  if (host === 'localhost' || host.endsWith('.localhost') || host.endsWith('.local') || host.endsWith('.internal')) return true
  return isIP(host) !== 0 && isForbiddenAddress(host)
}

/** Checks a URL before sending to it; names are checked again when the connection is made. */
export function checkEndpoint(url: string): string | null {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return 'not a valid URL'
  }
  if (!/^https?:$/.test(parsed.protocol)) return 'only http and https URLs are allowed'
  if (isObviouslyInternal(parsed)) return 'the URL points at an internal address'
  return null
}
