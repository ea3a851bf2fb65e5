// Secrets at rest: AES-256-GCM round trip, fresh IVs, tamper detection, and master-key rotation.
import assert from 'node:assert/strict'
import { createCipheriv, randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { masterKeyId, SecretBox } from './secret-box.ts'

/** A secret as the first format sealed it, naming no key: `v1.<iv>.<tag>.<ciphertext>`. */
function sealV1(key: Buffer, plaintext: string): string {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
  return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.')
}

describe('secret box', () => {
  const box = new SecretBox(randomBytes(32))

  it('round-trips and never repeats a ciphertext', () => {
    const a = box.encrypt('sk_test_secret')
    const b = box.encrypt('sk_test_secret')
    assert.notEqual(a, b)
    assert.ok(!a.includes('sk_test_secret'))
    assert.equal(box.decrypt(a), 'sk_test_secret')
  })

  it('refuses a tampered ciphertext or the wrong key', () => {
    const sealed = box.encrypt('whsec_abc')
    const parts = sealed.split('.')
    const body = Buffer.from(parts[4]!, 'base64url')
    body[0]! ^= 1
    parts[4] = body.toString('base64url')
    assert.throws(() => box.decrypt(parts.join('.')))
    assert.throws(() => new SecretBox(randomBytes(32)).decrypt(sealed), /sealed with master key/)
    assert.throws(() => box.decrypt('whsec_abc'), /not a sealed secret/)
    // The tag cut short (GCM checks only as many bytes as it is given, unless told the length).
    const short = sealed.split('.')
    short[3] = Buffer.from(short[3]!, 'base64url').subarray(0, 4).toString('base64url')
    assert.throws(() => box.decrypt(short.join('.')))
  })

  it('needs 32-byte keys', () => {
    assert.throws(() => new SecretBox(randomBytes(16)), /32 bytes/)
    assert.throws(() => new SecretBox(randomBytes(32), [randomBytes(31)]), /32 bytes/)
  })

  it('names the key that sealed a secret, by an id that is not the key', () => {
    const key = randomBytes(32)
    const sealed = new SecretBox(key).encrypt('x')
    assert.equal(sealed.split('.')[1], masterKeyId(key))
    assert.equal(masterKeyId(key).length, 11)
    assert.notEqual(masterKeyId(key), masterKeyId(randomBytes(32)))
  })

  it('opens what a previous master key sealed, and seals only with the current one', () => {
    const oldKey = randomBytes(32)
    const newKey = randomBytes(32)
    const before = new SecretBox(oldKey).encrypt('sk_live_rotated')
    const rotated = new SecretBox(newKey, [oldKey])
    assert.equal(rotated.decrypt(before), 'sk_live_rotated')
    assert.equal(rotated.sealedWithCurrentKey(before), false)
    const resealed = rotated.encrypt(rotated.decrypt(before))
    assert.equal(rotated.sealedWithCurrentKey(resealed), true)
    // Once resealed, the old key is no longer needed.
    assert.equal(new SecretBox(newKey).decrypt(resealed), 'sk_live_rotated')
    assert.throws(() => new SecretBox(newKey).decrypt(before), /sealed with master key/)
  })

  it('opens secrets of the first format, which name no key, with whichever configured key sealed them', () => {
    const oldKey = randomBytes(32)
    const newKey = randomBytes(32)
    const v1 = sealV1(oldKey, 'whsec_first')
    assert.equal(new SecretBox(oldKey).decrypt(v1), 'whsec_first')
    assert.equal(new SecretBox(newKey, [oldKey]).decrypt(v1), 'whsec_first')
    assert.equal(new SecretBox(newKey, [oldKey]).sealedWithCurrentKey(v1), false)
    assert.throws(() => new SecretBox(newKey).decrypt(v1), /no configured master key/)
  })
})
