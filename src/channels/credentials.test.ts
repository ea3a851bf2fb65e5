// Credentials documents are checked on the spot: every problem named, the classic mistakes caught.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { parseAlipayCredentials } from './alipay/credentials.ts'
import { parseWechatPayCredentials } from './wechat-pay/credentials.ts'

const wx = (f: string) => readFileSync(new URL(`./wechat-pay/fixtures/${f}`, import.meta.url), 'utf8')
const ali = (f: string) => readFileSync(new URL(`./alipay/fixtures/${f}`, import.meta.url), 'utf8')

describe('WeChat Pay credentials', () => {
  const good = {
    mchid: '1230000109', appid: 'wxd678efh567hg6787', merchant_serial_no: '5F1C72E2A8931B72A2E13AF8DEE92471EB397115',
    merchant_private_key: wx('wxjava_merchant_private_key.pem'), merchant_certificate: wx('wxjava_merchant_certificate.pem'),
    apiv3_key: 'a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb', wechatpay_public_key_id: 'PUB_KEY_ID_0114232134912410000000000000', wechatpay_public_key: wx('wxjava_wechat_pay_public_key.pem'),
  }
  it('accepts the official test identities, in public-key or certificate mode', () => {
    const p = parseWechatPayCredentials(good)
    assert.ok(p.ok, JSON.stringify(p))
    assert.equal(p.value.baseUrl, 'https://api.mch.weixin.qq.com')
    const c = parseWechatPayCredentials({ ...good, wechatpay_public_key_id: undefined, wechatpay_public_key: undefined, wechatpay_certificates: [wx('wxjava_wechat_pay_certificate.pem')] })
    assert.ok(c.ok)
    assert.ok(c.value.platformKeys.has('440024045C4A427599D09BB4E3DE0279F2E813FD'))
  })
  it('names every problem: key not matching the certificate, a short APIv3 key, no WeChat key', () => {
    const p = parseWechatPayCredentials({ ...good, merchant_private_key: wx('wxjava_wechat_pay_private_key.pem'), apiv3_key: 'x', wechatpay_public_key_id: undefined, wechatpay_public_key: undefined })
    assert.ok(!p.ok)
    assert.deepEqual(p.errors, [
      'apiv3_key must be exactly 32 bytes (APIv3密钥)',
      'merchant_private_key does not belong to merchant_certificate',
      'give wechatpay_public_key_id + wechatpay_public_key (微信支付公钥) or wechatpay_certificates (平台证书): responses and notifications cannot be verified without one',
    ])
    assert.ok(!parseWechatPayCredentials([]).ok)
  })
})

describe('Alipay credentials', () => {
  const good = { app_id: '2021000122671080', app_private_key: ali('alipaysdk_app-private-key.pem'), alipay_public_key: ali('alipaysdk_alipay-public-key.pem') }
  it('accepts PEM and bare base64 keys', () => {
    assert.ok(parseAlipayCredentials(good).ok)
    const bare = ali('alipaysdk_alipay-public-key.pem').replace(/-----[A-Z ]+-----|\s/g, '')
    const p = parseAlipayCredentials({ ...good, alipay_public_key: bare, gateway_url: 'https://openapi-sandbox.dl.alipaydev.com/gateway.do' })
    assert.ok(p.ok)
    assert.equal(p.value.gatewayUrl, 'https://openapi-sandbox.dl.alipaydev.com/gateway.do')
  })
  it('catches the app public key pasted where the Alipay public key belongs', () => {
    const p = parseAlipayCredentials({ ...good, alipay_public_key: ali('alipaysdk_app-public-key.pem') })
    assert.ok(!p.ok)
    assert.match(p.errors[0]!, /应用公钥/)
    const q = parseAlipayCredentials({ app_id: '12', app_private_key: 'nope' })
    assert.ok(!q.ok && q.errors.length === 3)
  })
})
