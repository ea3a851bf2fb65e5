// Which addresses a merchant's public webhook endpoint must never reach (SSRF guard), and a DNS lookup that
// refuses them. Plain JavaScript because the webhook sender thread (sender-thread.js) connects through it and
// starts without the TypeScript loader; endpoint-guard.ts builds the request-time checks on it. Types:
// address-guard.d.ts.
import { lookup as dnsLookup } from 'node:dns'
import { isIP } from 'node:net'

/** IPv4 special-purpose blocks (RFC 6890): private, shared, loopback, link-local, protocol and documentation. */
function ipv4Forbidden(a, b, c) {
  return (
    a === 0 || a === 10 || a === 127 || (a === 100 && b >= 64 && b <= 127) || (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 198 && (b === 18 || b === 19)) || a >= 224 ||
    (a === 192 && b === 0 && (c === 0 || c === 2)) || (a === 198 && b === 51 && c === 100) || (a === 203 && b === 0 && c === 113)
  )
}

/** Parses an IPv6 address (with optional embedded dotted IPv4 and zone) into 16 bytes; null if invalid. */
export function ipv6Bytes(ip) {
  let text = ip.split('%')[0].toLowerCase()
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (dotted) {
    const parts = dotted[1].split('.').map(Number)
    if (parts.some((p) => p > 255)) return null
    text = text.slice(0, -dotted[1].length) + ((parts[0] << 8) | parts[1]).toString(16) + ':' + ((parts[2] << 8) | parts[3]).toString(16)
  }
  const halves = text.split('::')
  if (halves.length > 2) return null
  const head = halves[0] ? halves[0].split(':') : []
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : []
  const missing = 8 - head.length - tail.length
  if ((halves.length === 1 && missing !== 0) || missing < 0) return null
  const groups = [...head, ...Array(halves.length === 2 ? missing : 0).fill('0'), ...tail]
  const bytes = []
  for (const g of groups) {
    if (!/^[0-9a-f]{1,4}$/.test(g)) return null
    const n = parseInt(g, 16)
    bytes.push(n >> 8, n & 255)
  }
  return bytes.length === 16 ? bytes : null
}

function ipv6Forbidden(b) {
  const zeros = (from, to) => b.slice(from, to).every((x) => x === 0)
  if (zeros(0, 15) && (b[15] === 0 || b[15] === 1)) return true // :: and ::1
  // IPv4-mapped (::ffff:0:0/96), IPv4-compatible (::/96) and NAT64 (64:ff9b::/96) carry an IPv4 address.
  const mapped = zeros(0, 10) && b[10] === 0xff && b[11] === 0xff
  const compatible = zeros(0, 12)
  const nat64 = b[0] === 0 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12)
  if (mapped || compatible || nat64) return ipv4Forbidden(b[12], b[13], b[14])
  if (b[0] === 0x20 && b[1] === 0x02) return ipv4Forbidden(b[2], b[3], b[4]) // 6to4 embeds one too
  // Otherwise only global unicast (2000::/3) is public: site-local, unique local, link-local, multicast, local-use
  // NAT64, SIIT and discard addresses all lie outside it. Inside it, 2001::/23 holds special-purpose blocks
  // (Teredo among them, which hides an IPv4 address) and 2001:db8::/32 is for documentation.
  if ((b[0] & 0xe0) !== 0x20) return true
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] < 0x02) return true
  return b[0] === 0x20 && b[1] === 0x01 && b[2] === 0x0d && b[3] === 0xb8
}

/** True for addresses a merchant's public endpoint must never resolve to. */
export function isForbiddenAddress(ip) {
  const bare = ip.replace(/^\[|\]$/g, '')
  const v = isIP(bare.split('%')[0])
  if (v === 4) {
    const [a, b, c] = bare.split('.').map(Number)
    return ipv4Forbidden(a, b, c)
  }
  const bytes = v === 6 ? ipv6Bytes(bare) : null
  return bytes === null || ipv6Forbidden(bytes)
}

/** A dns.lookup for outgoing connections that fails when any answer is an internal address. */
export function guardedLookup(hostname, options, callback) {
  const opts = typeof options === 'number' ? { family: options } : (options ?? {})
  dnsLookup(hostname, { ...opts, all: true }, (err, addresses) => {
    if (err) return callback(err, '')
    const bad = addresses.find((a) => isForbiddenAddress(a.address))
    if (bad) {
      const refusal = Object.assign(new Error(`${hostname} resolves to an internal address (${bad.address})`), { code: 'EINTERNALADDRESS' })
      return callback(refusal, '')
    }
    if (opts.all) return callback(null, addresses)
    const first = addresses[0]
    callback(null, first.address, first.family)
  })
}
