// Secrets at rest: AES-256-GCM round trip, fresh IVs, and tamper detection.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { SecretBox } from './secret-box.ts'

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
    const body = Buffer.from(parts[3]!, 'base64url')
    body[0]! ^= 1
    parts[3] = body.toString('base64url')
    assert.throws(() => box.decrypt(parts.join('.')))
    assert.throws(() => new SecretBox(randomBytes(32)).decrypt(sealed))
  })

  it('needs a 32-byte key', () => {
    assert.throws(() => new SecretBox(randomBytes(16)), /32 bytes/)
  })
})
