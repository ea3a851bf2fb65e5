// The signing rules against fixed vectors (documented in docs/authentication.md and cross-checked with openssl)
// and the Standard Webhooks specification's published example.
import assert from 'node:assert/strict'
import { createSecretKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import {
  authorizationHeader,
  newNonce,
  NONCE_PATTERN,
  buildPaymentLink,
  canonicalRequest,
  paymentLinkCanonical,
  parseAuthorization,
  signPaymentLink,
  signRequest,
  signWebhook,
} from './signing.ts'

const SECRET = 'sk_test_4eC39HqLyjWDarjtT1zdp7dcScanPayDocsVector00'
const VECTORS = [
  { method: 'POST', pathAndQuery: '/v1/orders', timestamp: 1764150000, nonce: 'n0nce-0123456789abcdef', body: '{"out_trade_no":"A-1001","amount":1234,"subject":"Latte"}', signature: 'aWxM+t7iBl+stL6XylitiPAdI2O0uIG9llhJhIfvHrk=' },
  { method: 'GET', pathAndQuery: '/v1/orders?limit=10&status=paid', timestamp: 1764150000, nonce: 'n0nce-fedcba9876543210', body: '', signature: 'uXPrh9GdAUjYCreYYrGoRHr8+/HirIdMUpn/vLOlOCI=' },
  { method: 'POST', pathAndQuery: '/v1/orders/ord_01jd0000000000000000000000/close', timestamp: 1764150123, nonce: 'abcdefghijklmnop', body: '', signature: 'g8E9Xrq+n7rPLe4Uy0mORfMPY1pNHUrziahM90bBuPQ=' },
]

describe('request signing', () => {
  for (const [i, v] of VECTORS.entries()) {
    it(`matches vector ${i + 1}`, () => {
      assert.equal(signRequest(SECRET, v), v.signature)
      assert.equal(signRequest(SECRET, { ...v, method: v.method.toLowerCase() }), v.signature, 'method is upper-cased')
    })
  }

  it('documents exactly these vectors', () => {
    const doc = readFileSync(new URL('../../docs/authentication.md', import.meta.url), 'utf8')
    assert.ok(doc.includes(SECRET))
    for (const v of VECTORS) assert.ok(doc.includes(v.signature) && doc.includes(v.nonce), v.signature)
  })

  it('makes nonces of the shape the contract asks for, which sort in the order they were made', () => {
    const nonces = [0, 1, 1_000, 36 ** 7, Date.now(), Date.now() + 1].map((t) => newNonce(t))
    for (const n of nonces) assert.match(n, NONCE_PATTERN)
    assert.deepEqual(nonces.map((n) => n.slice(0, 8)), [...nonces.map((n) => n.slice(0, 8))].sort())
    assert.notEqual(newNonce(5), newNonce(5))
  })

  it('builds the canonical request with a trailing newline after the body', () => {
    assert.equal(canonicalRequest({ method: 'get', pathAndQuery: '/v1/x', timestamp: 1, nonce: 'n', body: '' }).toString(), 'GET\n/v1/x\n1\nn\n\n')
  })

  it('reads the parameters in any order and with spaces, and the scheme in any case, as the general form allows', () => {
    const expected = { keyId: 'a', timestamp: '1', nonce: 'n', signature: 's' }
    assert.deepEqual(parseAuthorization('SCANPAY-HMAC-SHA256 nonce="n", key_id="a", signature="s", timestamp="1"'), expected)
    assert.deepEqual(parseAuthorization('scanpay-hmac-sha256 key_id="a",timestamp="1",nonce="n",signature="s"'), expected)
    assert.deepEqual(parseAuthorization('Scanpay-Hmac-Sha256  key_id="a", timestamp="1",nonce="n",signature="s"'), expected)
  })

  it('signs the same with the secret as a KeyObject', () => {
    const v = VECTORS[0]!
    assert.equal(signRequest(createSecretKey(Buffer.from(SECRET)), v), v.signature)
  })

  it('signs body bytes, not a re-encoding of them', () => {
    const body = '{"subject":"拿铁"}'
    assert.equal(
      signRequest(SECRET, { method: 'POST', pathAndQuery: '/', timestamp: 1, nonce: 'n', body }),
      signRequest(SECRET, { method: 'POST', pathAndQuery: '/', timestamp: 1, nonce: 'n', body: Buffer.from(body) }),
    )
  })

  it('round-trips the Authorization header and rejects malformed ones', () => {
    const v = VECTORS[0]!
    const header = authorizationHeader('key_test_abc', SECRET, v)
    assert.deepEqual(parseAuthorization(header), { keyId: 'key_test_abc', timestamp: '1764150000', nonce: v.nonce, signature: v.signature })
    for (const bad of [
      'Bearer x',
      'SCANPAY-HMAC-SHA256 key_id="a",timestamp="1",nonce="n"',
      'SCANPAY-HMAC-SHA256 key_id="a",timestamp="1",nonce="n",signature="s",extra="x"',
      'SCANPAY-HMAC-SHA256 key_id="a",key_id="b",nonce="n",signature="s"',
      'SCANPAY-HMAC-SHA256 key_id=a,timestamp="1",nonce="n",signature="s"',
      'SCANPAY-HMAC-SHA256 key_id="a,b",timestamp="1",nonce="n",signature="s"',
      'SCANPAY-HMAC-SHA256 key_id="",timestamp="1",nonce="n",signature="s"',
      'SCANPAY-HMAC-SHA25 key_id="a",timestamp="1",nonce="n",signature="s"',
      'SCANPAY-HMAC-SHA256key_id="a",timestamp="1",nonce="n",signature="s"',
      // Unicode would fold ſ to S; HTTP's case-insensitivity is ASCII's.
      'ſcanpay-hmac-sha256 key_id="a",timestamp="1",nonce="n",signature="s"',
    ]) {
      assert.equal(parseAuthorization(bad), null, bad)
    }
  })
})

describe('payment links', () => {
  const params = { amount: '1234', currency: 'CNY', out_trade_no: 'A-1001', subject: 'Latte 拿铁', expires_at: '1764150900' }

  it('matches the documented vector', () => {
    assert.equal(paymentLinkCanonical(params), 'amount=1234&currency=CNY&expires_at=1764150900&out_trade_no=A-1001&subject=Latte%20%E6%8B%BF%E9%93%81')
    assert.equal(signPaymentLink(SECRET, params), 'HYin0MoyrAJy-oXbrXP9DTOuB09UBpsv0T_X-HhEOUI')
    assert.equal(signPaymentLink(SECRET, { ...params, sig: 'ignored' }), 'HYin0MoyrAJy-oXbrXP9DTOuB09UBpsv0T_X-HhEOUI')
  })

  it('builds a link whose query verifies', () => {
    const link = new URL(buildPaymentLink({ publicUrl: 'https://pay.example/', keyId: 'key_test_x', secret: SECRET, amount: 1234, outTradeNo: 'A-1001', subject: 'Latte 拿铁', expiresAt: 1764150900 }))
    assert.equal(link.pathname, '/l/key_test_x')
    const q = Object.fromEntries(link.searchParams)
    assert.equal(q.sig, 'HYin0MoyrAJy-oXbrXP9DTOuB09UBpsv0T_X-HhEOUI')
    assert.equal(signPaymentLink(SECRET, q), q.sig)
  })

  it('refuses, naming the field, what the server would only answer with an error page', () => {
    const good = { publicUrl: 'https://pay.example', keyId: 'key_test_x', secret: SECRET, amount: 1234, outTradeNo: 'A-1001', subject: 'Latte', expiresAt: 1764150900 }
    assert.ok(buildPaymentLink(good))
    // What the server takes, the SDK takes too.
    assert.ok(buildPaymentLink({ ...good, amount: 100_000_000_000, currency: 'JPY', extra: { description: '第一行\n第二行', return_url: 'https://shop.example/done', lang: 'zh-CN' } }))
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ publicUrl: 'pay.example' }, /publicUrl/],
      [{ keyId: '' }, /keyId/],
      [{ secret: 'whsec_abc' }, /secret/],
      [{ amount: 12.34 }, /amount .*integer/],
      [{ amount: 0 }, /amount/],
      [{ amount: '1234' }, /amount/],
      [{ outTradeNo: 'A 1001' }, /outTradeNo/],
      [{ subject: '' }, /subject/],
      [{ subject: '拿'.repeat(129) }, /subject/],
      [{ subject: '   ' }, /subject must say something/],
      [{ subject: '\u200B\u200E' }, /subject must say something/],
      [{ subject: 'a\u2029b' }, /subject .*one line/],
      [{ subject: 'abc\u202Egnp.exe' }, /subject .*bidirectional override/],
      [{ expiresAt: Date.now() }, /expiresAt .*not milliseconds/],
      [{ expiresAt: 1764150900.5 }, /expiresAt/],
      [{ currency: 'cny' }, /currency/],
      [{ currency: 'RMB' }, /currency .*ISO 4217/],
      [{ amount: 100_000_000_001 }, /amount must be at most 100000000000/],
      [{ extra: { description: 'x'.repeat(513) } }, /extra\.description must be at most 512/],
      [{ extra: { description: 'a\u202Eb' } }, /extra\.description .*bidirectional/],
      [{ extra: { return_url: 'ftp://x/y' } }, /extra\.return_url must be an http\(s\) URL/],
      [{ extra: { notify_url: `https://shop.example/${'n'.repeat(1024)}` } }, /extra\.notify_url/],
      [{ extra: { lang: 'fr' } }, /extra\.lang must be en or zh-CN/],
      [{ extra: { amount: '1' } }, /extra\.amount/],
      [{ extra: { sig: 'x' } }, /extra\.sig/],
      [{ extra: { foo: 'bar' } }, /extra\.foo is not a parameter links take/],
    ]
    for (const [change, message] of cases) {
      assert.throws(() => buildPaymentLink({ ...good, ...change } as Parameters<typeof buildPaymentLink>[0]), (err: Error) => err instanceof TypeError && message.test(err.message), JSON.stringify(change))
    }
  })
})

describe('webhook signatures', () => {
  it('matches the Standard Webhooks specification example', () => {
    assert.equal(
      signWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}'),
      'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    )
  })
})
