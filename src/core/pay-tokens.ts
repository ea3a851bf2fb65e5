// Pay tokens: the customer's capability for one order, in its payment link and QR code.
//
// A token is 32 bytes, base64url (43 characters): the order's id encrypted under a server key (one AES block,
// a permutation: it reveals nothing of the id, its time or its merchant), then 128 random bits. The order is
// found through its id, whose index grows in time order, and the whole token is then compared with the one
// stored. An index on a random token instead put every new order on a random page of a large index: one
// written page per order at every commit, which measured as half of an insert's cost on SQLite.
import { createCipheriv, createDecipheriv, hkdfSync, type Cipher, type Decipher } from 'node:crypto'
import { randomSlice } from './ids.ts'

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'
const TOKEN_BYTES = 32
/** base64url of 32 bytes, without padding. */
export const PAY_TOKEN_LENGTH = 43

/** 8 base32 characters (40 bits) from `id` at `at`, as a number (exact: below 2^53). */
function read40(id: string, at: number): number {
  let n = 0
  for (let i = at; i < at + 8; i++) n = n * 32 + ALPHABET.indexOf(id[i]!)
  return n
}

function write40(n: number): string {
  let out = ''
  for (let i = 0; i < 8; i++, n = Math.floor(n / 32)) out = ALPHABET[n % 32] + out
  return out
}

/** An order id (`ord_` + 10 time + 16 random base32 chars) as one 16-byte block: 48-bit time, 80 random bits. */
function idToBlock(id: string): Buffer {
  if (!/^ord_[0-9a-hjkmnp-tv-z]{26}$/.test(id)) throw new Error(`not an order id: ${id}`)
  let time = 0
  for (let i = 4; i < 14; i++) time = time * 32 + ALPHABET.indexOf(id[i]!)
  if (time >= 2 ** 48) throw new Error(`order id time out of range: ${id}`)
  const block = Buffer.allocUnsafe(16)
  block.writeUIntBE(time, 0, 6)
  block.writeUIntBE(read40(id, 14), 6, 5)
  block.writeUIntBE(read40(id, 22), 11, 5)
  return block
}

function blockToId(block: Buffer): string {
  let time = block.readUIntBE(0, 6)
  let timeChars = ''
  for (let i = 0; i < 10; i++, time = Math.floor(time / 32)) timeChars = ALPHABET[time % 32] + timeChars
  return `ord_${timeChars}${write40(block.readUIntBE(6, 5))}${write40(block.readUIntBE(11, 5))}`
}

export class PayTokens {
  // ECB on exactly one block per call, padding off: each update() is one AES block in, one out, so one cipher
  // object serves every call (making one per call cost more than the rest of an order's id and token).
  readonly #encrypt: Cipher
  /** The current master key's first, then each previous key's: tokens issued before a rotation still open. */
  readonly #decrypts: Decipher[]

  /**
   * masterKey: the server's 32-byte master key; the token key is derived from it, for this use only. previous:
   * master keys rotated out, whose tokens (the payment links of orders made before) are still found.
   */
  constructor(masterKey: Buffer, previous: readonly Buffer[] = []) {
    this.#encrypt = createCipheriv('aes-256-ecb', tokenKey(masterKey), null).setAutoPadding(false)
    this.#decrypts = [masterKey, ...previous].map((k) => createDecipheriv('aes-256-ecb', tokenKey(k), null).setAutoPadding(false))
  }

  /** A new token for the order with this id. */
  issue(orderId: string): string {
    const locator = this.#encrypt.update(idToBlock(orderId))
    return Buffer.concat([locator, randomSlice(16)], TOKEN_BYTES).toString('base64url')
  }

  /**
   * The ids of the order a token may name: under the current master key, then under each previous one; none
   * when it is not a token of this shape. Anyone can make a string that decrypts to some id: the caller must
   * still compare the whole token with the order's stored one.
   */
  orderIdsOf(token: string): string[] {
    if (token.length !== PAY_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token)) return []
    const bytes = Buffer.from(token, 'base64url')
    if (bytes.length !== TOKEN_BYTES) return []
    const locator = bytes.subarray(0, 16)
    return this.#decrypts.map((d) => blockToId(d.update(locator)))
  }
}

function tokenKey(masterKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'scanpay pay-token locator v1', 32))
}
