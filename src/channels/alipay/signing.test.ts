// Alipay RSA2 cryptography against the alipay-sdk test vectors (channel-protocols.md B.9).
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import {
  extractSignedResponse,
  loadPrivateKey,
  loadPublicKey,
  notifySignContent,
  requestSignContent,
  responseKeyOf,
  rsa2Sign,
  rsa2Verify,
} from './signing.ts'

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')

describe('Alipay request signing', () => {
  it('signs the precreate request exactly as alipay-sdk does (ALI-D1)', () => {
    const params = {
      app_id: '2021000122671080',
      method: 'alipay.trade.precreate',
      charset: 'utf-8',
      sign_type: 'RSA2',
      timestamp: '2014-07-24 03:07:50',
      version: '1.0',
      notify_url: 'https://api.test.alipay.net/atinterface/receive_notify.htm',
      biz_content: '{"out_trade_no":"20150320010101001","total_amount":"88.88","subject":"Iphone6 16G","timeout_express":"90m"}',
      app_auth_token: '',
    }
    const content = requestSignContent(params)
    assert.equal(
      content,
      'app_id=2021000122671080&biz_content={"out_trade_no":"20150320010101001","total_amount":"88.88","subject":"Iphone6 16G","timeout_express":"90m"}&charset=utf-8&method=alipay.trade.precreate&notify_url=https://api.test.alipay.net/atinterface/receive_notify.htm&sign_type=RSA2&timestamp=2014-07-24 03:07:50&version=1.0',
    )
    const expected =
      'X0iBauHt1u4JxLTjF2bzFns+PQHps/JGE+tFLojFZLwd9u5RLZEWYzVUsbrTZkZje6XdLYo6/7cRPOWSu86zfo1me8Jcs32Dyy5qBXCWiaBvHNW7fcWwsc8G2hSy4BtzWIol1xjhxM13ugi8+5dVKpZmXXQpG02zx3Z/bqCtGNogdPQI2ZwkhJFsIf6Sk8v3Wf0I4jH0AxOe+0kr6aAwbBVXC8CyavaD53TsHc/Toj5XH7W0pCVXPvYVcKxnpvsYGmbZvuQUhQIyKYuj1tZ2OLHGMi8hIRxIGUEr4QKjGa2ORwkXSvPJg1X74bnOfSuc1DyDUCsUZF1jI5lAQwpyzw=='
    // The same key as PKCS#1 PEM, PKCS#8 PEM and bare base64 PKCS#8 gives the same signature.
    assert.equal(rsa2Sign(content, loadPrivateKey(fixture('alipaysdk_app-private-key.pem'))), expected)
    assert.equal(rsa2Sign(content, loadPrivateKey(fixture('alipaysdk_app-private-key-pkcs8.pem'))), expected)
    const bare = fixture('alipaysdk_app-private-key-pkcs8.pem').replace(/-----[A-Z ]+-----/g, '')
    assert.equal(rsa2Sign(content, loadPrivateKey(bare)), expected)
    assert.ok(rsa2Verify(content, expected, loadPublicKey(fixture('alipaysdk_app-public-key.pem'))))
  })
})

describe('Alipay response verification', () => {
  const sign =
    'F+LDzpTNiavn7xVZPGuPCSSVRSmWzJGgtuji6tVELGEaqMaNj0jRKXUEr5nloZJBBmwEnddOyCjjepMmrTKTvoOqQ0Efxpr/R1iEeHTHVbb/Q8TTh6Up5gHJDkILdaWS2q1cWeQ6VT+HQY9P3WRXS7uhILHuDODIhpAyCu5KhWGt0rMCIG+Im6NODJP2oohtSCtmTFXg58HH587Z2y2bdbjzOxLvzD9IrU1imghXQ2S/Q+wMIvRk9on6cWnBLkrNvJKapA2ReNGWOwyuASvB9zDVzhMPbR+3mfRGkVDxsq5HYLjBKGskJMXHw0HuugZij6ScRuaLPODhmHwr/pJ9yw=='
  const raw = `{"alipay_open_file_upload_response":{"code":"10000","msg":"Success","file_id":"CAxAToWB1JsAAAAAAAAAAAAADgSLAQBr"},"sign":"${sign}"}`
  const alipayKey = loadPublicKey(fixture('alipaysdk_alipay-public-key.pem'))

  it('verifies the alipay-sdk checkResponseSign vector over the exact response text (B.9.3)', () => {
    const x = extractSignedResponse(raw, 'alipay_open_file_upload_response')!
    assert.equal(x.signedText, '{"code":"10000","msg":"Success","file_id":"CAxAToWB1JsAAAAAAAAAAAAADgSLAQBr"}')
    assert.equal(x.sign, sign)
    assert.ok(rsa2Verify(x.signedText, x.sign!, alipayKey))
    const tampered = extractSignedResponse(raw.replace('CAxAT', 'CAxAX'), 'alipay_open_file_upload_response')!
    assert.equal(rsa2Verify(tampered.signedText, tampered.sign!, alipayKey), false)
  })

  it('extracts across whitespace and CRLF, with a "sign" key inside the data, and keeps escapes as sent', () => {
    const spaced = `{\r\n  "alipay_x_response" :\r\n {"code":"10000","sign":"inner","url":"https:\\/\\/qr.alipay.com\\/b}"} ,\r\n "sign":"outer"}`
    const x = extractSignedResponse(spaced, 'alipay_x_response')!
    assert.equal(x.signedText, '{"code":"10000","sign":"inner","url":"https:\\/\\/qr.alipay.com\\/b}"}')
    assert.equal(x.sign, 'outer')
    assert.equal(extractSignedResponse('{"error_response":{"code":"40002"},"sign":"s"}', 'alipay_x_response')!.key, 'error_response')
  })

  it('refuses a body naming the response twice, and one without it', () => {
    assert.equal(extractSignedResponse('{"alipay_x_response":{"a":1},"alipay_x_response":{"a":2},"sign":"s"}', 'alipay_x_response'), null)
    assert.equal(extractSignedResponse('{"other":{}}', 'alipay_x_response'), null)
    assert.equal(responseKeyOf('alipay.trade.precreate'), 'alipay_trade_precreate_response')
  })
})

describe('Alipay notification verification', () => {
  it('verifies the real trade_status_sync notification with sign and sign_type removed (B.9.1)', () => {
    const content =
      'app_id=2019073166072302&auth_app_id=2019073166072302&buyer_id=2088102534368455&buyer_logon_id=xud***@126.com&buyer_pay_amount=0.10&charset=utf-8&fund_bill_list=[{"amount":"0.10","fundChannel":"ALIPAYACCOUNT"}]&gmt_create=2019-08-15 15:56:22&gmt_payment=2019-08-15 15:56:24&invoice_amount=0.10&notify_id=2019081500222155624068450559358070&notify_time=2019-08-15 15:56:25&notify_type=trade_status_sync&out_trade_no=20190815155618536-564-57&point_amount=0.00&receipt_amount=0.10&seller_email=z97-yuquerevenue@service.aliyun.com&seller_id=2088531891668739&subject=语雀空间 500人规模&total_amount=0.10&trade_no=2019081522001468450512505578&trade_status=TRADE_SUCCESS&version=1.0'
    const sign =
      'QfTb8tqE1BMhS5qAnXtvsF3/jBkEvu9q9en0pdbBUDDjvKycZhQb7h8GDs4FKfi049PynaNuatxSgLb/nLWZpXyyh0LEWdK2S6Ri7nPwrVgOs08zugLO20vOQz44y3ti2Ncm8/wZts1Fr2gZ7pShnVX3d1B50hbsXnObT1r/U8ONNQjWXd0HIul4TG+Q3fm3svmSvFEy0WnzuhcyHPX5Gm4ELNctL6Qd5YniGJFNcc7kopHYtI/XD9YCKCH6Ct02rzUs9i11C9CsadtZn+WhxF26Dqt9sGEFajkJ8cxUTLi8+VCpLHsgPE8P0y095uQcDdK0YjCh4x7wVSov+lrmOQ=='
    // Rebuild the form the way it arrives: every pair, plus sign and sign_type, in a scrambled order.
    const params: Record<string, string> = {}
    for (const pair of content.split('&')) params[pair.slice(0, pair.indexOf('='))] = pair.slice(pair.indexOf('=') + 1)
    const form = new URLSearchParams([...Object.entries(params).reverse(), ['sign', sign], ['sign_type', 'RSA2']])
    const received = Object.fromEntries(new URLSearchParams(form.toString()))
    const key = loadPublicKey(fixture('alipaysdk_test_inline_notify_pubkey_v1.pem'))
    assert.equal(notifySignContent(received), content)
    assert.ok(rsa2Verify(notifySignContent(received), received.sign!, key))
    // Keeping sign_type (the V2 rule) does not verify a trade notification; nor does a wrong key or a changed amount.
    assert.equal(rsa2Verify(notifySignContent(received, true), sign, key), false)
    assert.equal(rsa2Verify(notifySignContent(received), sign, loadPublicKey(fixture('alipaysdk_alipay-public-key.pem'))), false)
    assert.equal(rsa2Verify(notifySignContent({ ...received, total_amount: '0.01' }), sign, key), false)
  })
})
