// The hand-made HMAC must agree with node:crypto's for every key length and message, or signed requests break;
// and only the one canonical spelling of the right MAC may pass.
import assert from 'node:assert/strict'
import { createHmac, randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { HmacSha256Key } from './hmac-sha256.ts'

const reference = (key: string | Buffer, pieces: string[]) => {
  const h = createHmac('sha256', key)
  for (const piece of pieces) h.update(piece, 'utf8')
  return h.digest('base64')
}

describe('HMAC-SHA256 over one-shot hashes', () => {
  it("verifies RFC 4231's test case 2", () => {
    const mac = Buffer.from('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843', 'hex').toString('base64')
    assert.ok(new HmacSha256Key('Jefe').verifyBase64(['what do ya want ', 'for nothing?'], mac))
    assert.ok(!new HmacSha256Key('Jefe').verifyBase64(['what do ya want ', 'for nothing!'], mac))
  })

  it('agrees with createHmac for keys shorter than, equal to and longer than a block', () => {
    for (const length of [0, 1, 20, 48, 63, 64, 65, 100, 131, 500]) {
      const key = randomBytes(length)
      const pieces = ['POST\n/v1/orders\n1764240000\nnonce_0123456789abcdef\n', JSON.stringify({ amount: length }), '\n']
      assert.ok(new HmacSha256Key(key).verifyBase64(pieces, reference(key, pieces)), `key of ${length} bytes`)
      assert.ok(!new HmacSha256Key(randomBytes(length + 1)).verifyBase64(pieces, reference(key, pieces)), `another key than ${length} bytes`)
    }
  })

  it('agrees with createHmac for string secrets, multi-byte text, empty and long messages', () => {
    const secret = 'sk_test_' + randomBytes(30).toString('base64url')
    const key = new HmacSha256Key(secret)
    const cases = [[], [''], ['订单：扫码支付 ✓'], ['a'.repeat(5000)], ['x'.repeat(100), '', 'é'.repeat(3000), '\n']]
    for (const pieces of cases) assert.ok(key.verifyBase64(pieces, reference(secret, pieces)))
    // A long message grows the shared buffer; a short one after it must not see the long one's bytes.
    assert.ok(key.verifyBase64(['short'], reference(secret, ['short'])))
    assert.ok(!key.verifyBase64(['short'], reference(secret, ['shorter'])))
  })

  it('refuses every other spelling of the right MAC, and anything not 32 bytes of base64', () => {
    const key = new HmacSha256Key('sk_test_0123456789abcdefghij')
    const pieces = ['m']
    const right = reference('sk_test_0123456789abcdefghij', pieces)
    assert.ok(key.verifyBase64(pieces, right))
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
    // The 43rd character carries 4 bits and 2 zeros: the next character decodes to the same bytes, and is refused.
    const sloppy = right.slice(0, 42) + alphabet[alphabet.indexOf(right[42]!) + 1] + '='
    assert.deepEqual(Buffer.from(sloppy, 'base64'), Buffer.from(right, 'base64'))
    for (const wrong of [sloppy, right.slice(0, 43), right + '=', right.replace('=', ''), ' ' + right, right.replace(/\+/g, '-').replace(/\//g, '_'), '', 'x']) {
      if (wrong === right) continue
      assert.ok(!key.verifyBase64(pieces, wrong), JSON.stringify(wrong))
    }
  })

  it('keeps keys apart when they verify in turn', () => {
    const a = new HmacSha256Key('sk_test_aaaaaaaaaaaaaaaaaaaaaaaa')
    const b = new HmacSha256Key('sk_test_bbbbbbbbbbbbbbbbbbbbbbbb')
    for (let i = 0; i < 3; i++) {
      assert.ok(a.verifyBase64([`m${i}`], reference('sk_test_aaaaaaaaaaaaaaaaaaaaaaaa', [`m${i}`])))
      assert.ok(b.verifyBase64([`m${i}`], reference('sk_test_bbbbbbbbbbbbbbbbbbbbbbbb', [`m${i}`])))
      assert.ok(!b.verifyBase64([`m${i}`], reference('sk_test_aaaaaaaaaaaaaaaaaaaaaaaa', [`m${i}`])))
    }
  })
})
