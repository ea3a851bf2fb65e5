// The hand-made HMAC must equal node:crypto's for every key length and message, or signed requests break.
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
  it("matches RFC 4231's test case 2", () => {
    const mac = new HmacSha256Key('Jefe').signBase64(['what do ya want ', 'for nothing?'])
    assert.equal(Buffer.from(mac, 'base64').toString('hex'), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843')
  })

  it('matches createHmac for keys shorter than, equal to and longer than a block', () => {
    for (const length of [0, 1, 20, 48, 63, 64, 65, 100, 131, 500]) {
      const key = randomBytes(length)
      const pieces = ['POST\n/v1/orders\n1764240000\nnonce_0123456789abcdef\n', JSON.stringify({ amount: length }), '\n']
      assert.equal(new HmacSha256Key(key).signBase64(pieces), reference(key, pieces), `key of ${length} bytes`)
    }
  })

  it('matches createHmac for string secrets, multi-byte text, empty and long messages', () => {
    const secret = 'sk_test_' + randomBytes(30).toString('base64url')
    const key = new HmacSha256Key(secret)
    const cases = [[], [''], ['订单：扫码支付 ✓'], ['a'.repeat(5000)], ['x'.repeat(100), '', 'é'.repeat(3000), '\n']]
    for (const pieces of cases) assert.equal(key.signBase64(pieces), reference(secret, pieces))
    // A long message grows the shared buffer; a short one after it must not see the long one's bytes.
    assert.equal(key.signBase64(['short']), reference(secret, ['short']))
  })

  it('keeps keys apart when they sign in turn', () => {
    const a = new HmacSha256Key('sk_test_aaaaaaaaaaaaaaaaaaaaaaaa')
    const b = new HmacSha256Key('sk_test_bbbbbbbbbbbbbbbbbbbbbbbb')
    for (let i = 0; i < 3; i++) {
      assert.equal(a.signBase64([`m${i}`]), reference('sk_test_aaaaaaaaaaaaaaaaaaaaaaaa', [`m${i}`]))
      assert.equal(b.signBase64([`m${i}`]), reference('sk_test_bbbbbbbbbbbbbbbbbbbbbbbb', [`m${i}`]))
    }
  })
})
