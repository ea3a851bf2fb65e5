// In production, merchant URLs must not reach loopback, private, link-local or other internal addresses
// (SSRF guard). Literal addresses are checked by their bytes, so no IPv6 spelling of an internal IPv4
// address slips through; names are checked at connect time by a lookup that refuses internal answers, so the
// address checked is the address used (no DNS rebinding between check and connect).
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns'
import { isIP, type LookupFunction } from 'node:net'

function ipv4Forbidden(a: number, b: number): boolean {
  return (
    a === 0 || a === 10 || a === 127 || (a === 100 && b >= 64 && b <= 127) || (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 198 && (b === 18 || b === 19)) || a >= 224
  )
}

/** Parses an IPv6 address (with optional embedded dotted IPv4 and zone) into 16 bytes; null if invalid. */
export function ipv6Bytes(ip: string): number[] | null {
  let text = ip.split('%')[0]!.toLowerCase()
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (dotted) {
    const parts = dotted[1]!.split('.').map(Number)
    if (parts.some((p) => p > 255)) return null
    text = text.slice(0, -dotted[1]!.length) + ((parts[0]! << 8) | parts[1]!).toString(16) + ':' + ((parts[2]! << 8) | parts[3]!).toString(16)
  }
  const halves = text.split('::')
  if (halves.length > 2) return null
  const head = halves[0] ? halves[0].split(':') : []
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : []
  const missing = 8 - head.length - tail.length
  if ((halves.length === 1 && missing !== 0) || missing < 0) return null
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail]
  const bytes: number[] = []
  for (const g of groups) {
    if (!/^[0-9a-f]{1,4}$/.test(g)) return null
    const n = parseInt(g, 16)
    bytes.push(n >> 8, n & 255)
  }
  return bytes.length === 16 ? bytes : null
}

function ipv6Forbidden(b: number[]): boolean {
  const zeros = (from: number, to: number) => b.slice(from, to).every((x) => x === 0)
  if (zeros(0, 15) && (b[15] === 0 || b[15] === 1)) return true // :: and ::1
  // IPv4-mapped (::ffff:0:0/96), IPv4-compatible (::/96) and NAT64 (64:ff9b::/96) carry an IPv4 address.
  const mapped = zeros(0, 10) && b[10] === 0xff && b[11] === 0xff
  const compatible = zeros(0, 12)
  const nat64 = b[0] === 0 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12)
  if (mapped || compatible || nat64) return ipv4Forbidden(b[12]!, b[13]!)
  if (b[0] === 0x20 && b[1] === 0x02) return ipv4Forbidden(b[2]!, b[3]!) // 6to4 embeds one too
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return true // link-local fe80::/10
  if ((b[0]! & 0xfe) === 0xfc) return true // unique local fc00::/7
  return b[0] === 0xff // multicast
}

/** True for addresses a merchant's public endpoint must never resolve to. */
export function isForbiddenAddress(ip: string): boolean {
  const bare = ip.replace(/^\[|\]$/g, '')
  const v = isIP(bare.split('%')[0]!)
  if (v === 4) {
    const [a, b] = bare.split('.').map(Number) as [number, number]
    return ipv4Forbidden(a, b)
  }
  const bytes = v === 6 ? ipv6Bytes(bare) : null
  return bytes === null || ipv6Forbidden(bytes)
}

/** Cheap check without DNS, for request validation: literal internal addresses and local names. */
export function isObviouslyInternal(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase()
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

/** A dns.lookup for outgoing connections that fails when any answer is an internal address. */
export const guardedLookup: LookupFunction = (hostname, options, callback) => {
  const opts: LookupOptions = typeof options === 'number' ? { family: options } : (options ?? {})
  dnsLookup(hostname, { ...opts, all: true }, (err, addresses: LookupAddress[]) => {
    if (err) return callback(err, '')
    const bad = addresses.find((a) => isForbiddenAddress(a.address))
    if (bad) {
      const refusal = Object.assign(new Error(`${hostname} resolves to an internal address (${bad.address})`), { code: 'EINTERNALADDRESS' })
      return callback(refusal, '')
    }
    if (opts.all) return callback(null, addresses)
    const first = addresses[0]!
    callback(null, first.address, first.family)
  })
}
