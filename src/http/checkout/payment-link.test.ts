import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { buildPaymentLink, signPaymentLink } from '../../../sdk/src/signing.ts'
import { readLinkQuery, validateLinkParams, verifyLinkSignature, type PaymentLink } from './payment-link.ts'

const SECRET = 'sk_test_secret'
const BASE = { amount: '1234', currency: 'CNY', out_trade_no: 'A-1001', subject: 'Latte', expires_at: '1764150900' }

function params(query: string): Record<string, string> {
  const read = readLinkQuery(query)
  assert.ok('params' in read)
  return read.params
}

describe('readLinkQuery', () => {
  it('reads each name once', () => {
    assert.deepEqual({ ...params('a=1&b=x%20y&c=') }, { a: '1', b: 'x y', c: '' })
  })

  it('refuses a repeated name, which a signature cannot cover unambiguously', () => {
    assert.deepEqual(readLinkQuery('amount=1&amount=2'), { repeated: 'amount' })
  })

  it('sets aside what WeChat appends to a shared link, however often it was shared', () => {
    assert.deepEqual({ ...params('a=1&from=singlemessage&isappinstalled=0') }, { a: '1' })
    assert.deepEqual({ ...params('a=1&from=groupmessage&isappinstalled=0&scene=1&clicktime=1764150900&enterid=1764150900&from=timeline') }, { a: '1' })
  })

  it('refuses escapes that are not UTF-8 and NUL, naming where; a + is a space', () => {
    assert.deepEqual(readLinkQuery('amount=1&subject=%C3%28'), { malformed: 'subject' })
    assert.deepEqual(readLinkQuery('subject=a%ZZ'), { malformed: 'subject' })
    assert.deepEqual(readLinkQuery('subject=a%00b'), { malformed: 'subject' })
    assert.deepEqual(readLinkQuery('%FF=1'), { malformed: '' })
    assert.deepEqual(readLinkQuery('%00=1'), { malformed: '' })
    assert.deepEqual({ ...params('subject=Latte+%26+cake') }, { subject: 'Latte & cake' })
  })

  it('is not fooled by names that exist on Object.prototype', () => {
    assert.deepEqual({ ...params('constructor=1&toString=2') }, { constructor: '1', toString: '2' })
  })
})

describe('verifyLinkSignature', () => {
  it('accepts a link built by the SDK', () => {
    const url = new URL(buildPaymentLink({ publicUrl: 'https://pay.example', keyId: 'key_test_x', secret: SECRET, amount: 1234, outTradeNo: 'A-1001', subject: 'Latte & cake / 拿铁', expiresAt: 1764150900 }))
    assert.equal(verifyLinkSignature(SECRET, params(url.search.slice(1))), true)
  })

  it('refuses a changed value, a missing sig and another secret', () => {
    const sig = signPaymentLink(SECRET, BASE)
    assert.equal(verifyLinkSignature(SECRET, { ...BASE, sig }), true)
    assert.equal(verifyLinkSignature(SECRET, { ...BASE, amount: '1', sig }), false)
    assert.equal(verifyLinkSignature(SECRET, { ...BASE, extra: 'x', sig }), false)
    assert.equal(verifyLinkSignature(SECRET, { ...BASE }), false)
    assert.equal(verifyLinkSignature('sk_test_other', { ...BASE, sig }), false)
  })
})

describe('validateLinkParams', () => {
  const ok = (p: Record<string, string>) => {
    const link = validateLinkParams(p, false)
    assert.ok(!('kind' in link), JSON.stringify(link))
    return link as PaymentLink
  }
  const bad = (p: Record<string, string>, param: string) => assert.deepEqual(validateLinkParams(p, false), { kind: 'malformed', param })

  it('reads a minimal link, currency defaulting to CNY', () => {
    const { currency, ...rest } = BASE
    assert.equal(currency, 'CNY')
    assert.deepEqual(ok({ ...rest, sig: 'x' }), {
      amount: 1234, currency: 'CNY', outTradeNo: 'A-1001', subject: 'Latte', expiresAt: 1764150900,
      description: null, returnUrl: null, notifyUrl: null, lang: null,
    })
  })

  it('reads the optional parameters', () => {
    const link = ok({ ...BASE, description: 'Oat milk', return_url: 'https://shop.example/r', notify_url: 'https://shop.example/n', lang: 'zh-CN' })
    assert.equal(link.description, 'Oat milk')
    assert.equal(link.returnUrl, 'https://shop.example/r')
    assert.equal(link.notifyUrl, 'https://shop.example/n')
    assert.equal(link.lang, 'zh-CN')
  })

  it('takes amounts as plain decimals from 1 to 10^11 only', () => {
    assert.equal(ok({ ...BASE, amount: '100000000000' }).amount, 100_000_000_000)
    for (const amount of ['0', '-1', '+1', '01', '12.34', '1e3', ' 1', '100000000001', '', '0x10', '１２']) bad({ ...BASE, amount }, 'amount')
  })

  it('applies the API rules to every field', () => {
    bad({ ...BASE, currency: 'cny' }, 'currency')
    bad({ ...BASE, currency: '' }, 'currency')
    bad({ ...BASE, currency: 'ABC' }, 'currency')
    bad({ ...BASE, out_trade_no: 'A 1' }, 'out_trade_no')
    bad({ ...BASE, out_trade_no: 'x'.repeat(65) }, 'out_trade_no')
    bad({ ...BASE, subject: '' }, 'subject')
    bad({ ...BASE, subject: 'x'.repeat(129) }, 'subject')
    assert.equal(ok({ ...BASE, subject: '拿'.repeat(128) }).subject.length, 128)
    bad({ ...BASE, subject: '  ' }, 'subject')
    bad({ ...BASE, subject: 'a\u0007b' }, 'subject')
    bad({ ...BASE, subject: 'abc\u202Egnp.exe' }, 'subject')
    bad({ ...BASE, subject: '\u200B' }, 'subject')
    bad({ ...BASE, subject: 'a\u2028b' }, 'subject')
    bad({ ...BASE, description: 'x'.repeat(513) }, 'description')
    bad({ ...BASE, description: 'x\u001B' }, 'description')
    assert.equal(ok({ ...BASE, description: 'two\nlines' }).description, 'two\nlines')
    bad({ ...BASE, expires_at: 'soon' }, 'expires_at')
    bad({ ...BASE, expires_at: '1764150900.5' }, 'expires_at')
    bad({ ...BASE, return_url: 'javascript:alert(1)' }, 'return_url')
    bad({ ...BASE, return_url: 'https://user:pass@shop.example/' }, 'return_url')
    bad({ ...BASE, return_url: 'https://user@shop.example/' }, 'return_url')
    bad({ ...BASE, notify_url: 'https://x.example/' + 'a'.repeat(1024) }, 'notify_url')
    bad({ ...BASE, lang: 'fr' }, 'lang')
  })

  it('requires the named parameters and refuses unknown ones', () => {
    for (const name of ['amount', 'out_trade_no', 'subject', 'expires_at'] as const) {
      const p: Record<string, string> = { ...BASE }
      delete p[name]
      bad(p, name)
    }
    assert.deepEqual(validateLinkParams({ ...BASE, metadata: '{}' }, false), { kind: 'unknown', param: 'metadata' })
  })

  it('refuses internal URLs in production only', () => {
    assert.deepEqual(validateLinkParams({ ...BASE, notify_url: 'http://127.0.0.1/hook' }, true), { kind: 'url_not_allowed', param: 'notify_url' })
    assert.equal(ok({ ...BASE, notify_url: 'http://127.0.0.1/hook' }).notifyUrl, 'http://127.0.0.1/hook')
  })
})
