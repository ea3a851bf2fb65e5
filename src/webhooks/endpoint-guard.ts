// In production, merchant URLs must not reach loopback, private or link-local addresses (SSRF guard).
import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'

function ipv4Private(ip: string): boolean {
  const [a, b] = ip.split('.').map(Number) as [number, number]
  return (
    a === 0 || a === 10 || a === 127 || (a === 100 && b >= 64 && b <= 127) || (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || a >= 224
  )
}

/** True for addresses a merchant's public endpoint must never resolve to. */
export function isForbiddenAddress(ip: string): boolean {
  const v = isIP(ip)
  if (v === 4) return ipv4Private(ip)
  if (v !== 6) return true
  const lower = ip.toLowerCase()
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower)
  if (mapped) return ipv4Private(mapped[1]!)
  return (
    lower === '::1' || lower === '::' || lower.startsWith('fe8') || lower.startsWith('fe9') ||
    lower.startsWith('fea') || lower.startsWith('feb') || lower.startsWith('fc') || lower.startsWith('fd') ||
    lower.startsWith('ff')
  )
}

/** Cheap check without DNS, for request validation: literal private addresses and localhost names. */
export function isObviouslyInternal(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase()
  if (host === 'localhost' || host.endsWith('.localhost') || host.endsWith('.local') || host.endsWith('.internal')) return true
  return isIP(host) !== 0 && isForbiddenAddress(host)
}

/** Resolves the URL's host and refuses it when any address is internal; returns an error text or null. */
export async function checkEndpoint(url: string): Promise<string | null> {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return 'not a valid URL'
  }
  if (isObviouslyInternal(parsed)) return 'the URL points at an internal address'
  const host = parsed.hostname.replace(/^\[|\]$/g, '')
  if (isIP(host)) return null
  try {
    const addresses = await lookup(host, { all: true })
    if (addresses.some((a) => isForbiddenAddress(a.address))) return 'the URL resolves to an internal address'
  } catch (err) {
    return `DNS lookup failed: ${(err as Error).message}`
  }
  return null
}
