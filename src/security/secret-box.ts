// Encrypts secrets at rest with the master key (AES-256-GCM). A sealed secret names the key that sealed it:
// `v2.<key id>.<iv>.<tag>.<ciphertext>`, base64url parts. Earlier ones (`v1.<iv>.<tag>.<ciphertext>`) name none;
// they are opened by trying each key, GCM's tag telling the right one. Previous master keys still open what they
// sealed, so the master key can be rotated: `scanpay master-key reseal` then seals everything under the current one.
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto'

/** A short public name for a master key: it says which key sealed a secret and reveals nothing of the key. */
export function masterKeyId(masterKey: Buffer): string {
  return createHmac('sha256', masterKey).update('scanpay master key id').digest().subarray(0, 8).toString('base64url')
}

function checked(masterKey: Buffer): Buffer {
  if (masterKey.length !== 32) throw new Error('the master key must be 32 bytes (base64 of 32 random bytes)')
  return masterKey
}

export class SecretBox {
  readonly #key: Buffer
  readonly #keyId: string
  /** Every key that may open a secret, by id: the current one first. */
  readonly #keys = new Map<string, Buffer>()

  /** previous: master keys rotated out, which still open what they sealed but seal nothing new. */
  constructor(masterKey: Buffer, previous: readonly Buffer[] = []) {
    this.#key = checked(masterKey)
    this.#keyId = masterKeyId(masterKey)
    for (const key of [masterKey, ...previous]) this.#keys.set(masterKeyId(checked(key)), key)
  }

  encrypt(plaintext: string): string {
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv)
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
    return ['v2', this.#keyId, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.')
  }

  decrypt(sealed: string): string {
    const parts = sealed.split('.')
    if (parts[0] === 'v2' && parts.length === 5) {
      const key = this.#keys.get(parts[1]!)
      if (!key) throw new Error(`this secret was sealed with master key ${parts[1]}, which is neither SCANPAY_MASTER_KEY nor one of SCANPAY_PREVIOUS_MASTER_KEYS`)
      return open(key, parts[2]!, parts[3]!, parts[4]!)
    }
    if (parts[0] === 'v1' && parts.length === 4) {
      for (const key of this.#keys.values()) {
        try {
          return open(key, parts[1]!, parts[2]!, parts[3]!)
        } catch {
          // not this key's: GCM's tag did not match
        }
      }
      throw new Error('no configured master key opens this secret')
    }
    throw new Error('not a sealed secret')
  }

  /** Whether one of the configured master keys has this id (masterKeyId). */
  hasKey(keyId: string): boolean {
    return this.#keys.has(keyId)
  }

  /** Whether the current master key sealed this secret (else `scanpay master-key reseal` seals it again). */
  sealedWithCurrentKey(sealed: string): boolean {
    return sealed.startsWith(`v2.${this.#keyId}.`)
  }
}

function open(key: Buffer, iv: string, tag: string, body: string): string {
  // The whole 16-byte tag, as sealed: GCM would otherwise accept a tag cut as short as 4 bytes.
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), { authTagLength: 16 })
  decipher.setAuthTag(Buffer.from(tag, 'base64url'))
  return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8')
}
