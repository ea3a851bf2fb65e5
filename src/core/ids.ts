// Prefixed, time-ordered identifiers: a 10-char millisecond timestamp then 16 random chars (Crockford base32).
import { randomFillSync } from 'node:crypto'

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'

export type IdPrefix = 'mch' | 'ord' | 'pay' | 'rfd' | 'evt' | 'req' | 'whd'

function encodeTime(ms: number): string {
  let out = ''
  let n = ms
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[n % 32] + out
    n = Math.floor(n / 32)
  }
  return out
}

// Random bytes are drawn from the CSPRNG 4 KiB at a time and handed out once each: one call per id cost more
// than the rest of making the id. Each byte is used for one id only.
const pool = Buffer.alloc(4096)
let poolOffset = pool.length

/** count bytes from the CSPRNG, never handed out before. */
export function randomSlice(count: number): Buffer {
  if (poolOffset + count > pool.length) {
    randomFillSync(pool)
    poolOffset = 0
  }
  const slice = pool.subarray(poolOffset, poolOffset + count)
  poolOffset += count
  return slice
}

function randomChars(count: number): string {
  const bytes = randomSlice(count)
  let out = ''
  for (let i = 0; i < count; i++) out += ALPHABET[bytes[i]! & 31]
  return out
}

export function newId(prefix: IdPrefix, nowMs: number = Date.now()): string {
  return `${prefix}_${encodeTime(nowMs)}${randomChars(16)}`
}
