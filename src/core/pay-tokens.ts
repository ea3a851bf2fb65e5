// Pay tokens: the customer's capability for one order, in its payment link and QR code.
//
// A token is 32 bytes, base64url (43 characters): the order's id encrypted under a server key (one AES block,
// a permutation: it reveals nothing of the id, its time or its merchant), then 128 random bits. The order is
// found through its id, whose index grows in time order, and the whole token is then compared with the one
// stored. An index on a random token instead put every new order on a random page of a large index: one
// written page per order at every commit, which measured as half of an insert's cost on SQLite.
import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto'
import { randomSlice } from './ids.ts'

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'
const TOKEN_BYTES = 32
/** base64url of 32 bytes, without padding. */
export const PAY_TOKEN_LENGTH = 43

/** An order id (`ord_` + 10 time + 16 random base32 chars) as one 16-byte block: 48-bit time, 80 random bits. */
function idToBlock(id: string): Buffer {
  if (!/^ord_[0-9a-hjkmnp-tv-z]{26}$/.test(id)) throw new Error(`not an order id: ${id}`)
  let time = 0
  for (let i = 4; i < 14; i++) time = time * 32 + ALPHABET.indexOf(id[i]!)
  if (time >= 2 ** 48) throw new Error(`order id time out of range: ${id}`)
  const block = Buffer.alloc(16)
  block.writeUIntBE(time, 0, 6)
  // 16 chars × 5 bits = 80 bits = 10 bytes, packed big-endian.
  let acc = 0n
  for (let i = 14; i < 30; i++) acc = (acc << 5n) | BigInt(ALPHABET.indexOf(id[i]!))
  for (let i = 15; i >= 6; i--) {
    block[i] = Number(acc & 0xffn)
    acc >>= 8n
  }
  return block
}

function blockToId(block: Buffer): string {
  let time = block.readUIntBE(0, 6)
  let timeChars = ''
  for (let i = 0; i < 10; i++, time = Math.floor(time / 32)) timeChars = ALPHABET[time % 32] + timeChars
  let acc = 0n
  for (let i = 6; i < 16; i++) acc = (acc << 8n) | BigInt(block[i]!)
  let randomChars = ''
  for (let i = 0; i < 16; i++, acc >>= 5n) randomChars = ALPHABET[Number(acc & 31n)] + randomChars
  return `ord_${timeChars}${randomChars}`
}

export class PayTokens {
  readonly #key: Buffer

  /** masterKey: the server's 32-byte master key; the token key is derived from it, for this use only. */
  constructor(masterKey: Buffer) {
    this.#key = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'scanpay pay-token locator v1', 32))
  }

  /** A new token for the order with this id. */
  issue(orderId: string): string {
    const cipher = createCipheriv('aes-256-ecb', this.#key, null).setAutoPadding(false)
    const locator = cipher.update(idToBlock(orderId))
    return Buffer.concat([locator, randomSlice(16)], TOKEN_BYTES).toString('base64url')
  }

  /**
   * The id of the order a token names, or null when it is not a token of this shape. Anyone can make a string
   * that decrypts to some id: the caller must still compare the whole token with the order's stored one.
   */
  orderIdOf(token: string): string | null {
    if (token.length !== PAY_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token)) return null
    const bytes = Buffer.from(token, 'base64url')
    if (bytes.length !== TOKEN_BYTES) return null
    const decipher = createDecipheriv('aes-256-ecb', this.#key, null).setAutoPadding(false)
    return blockToId(decipher.update(bytes.subarray(0, 16)))
  }
}
