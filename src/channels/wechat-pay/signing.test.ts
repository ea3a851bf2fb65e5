// WeChat Pay cryptography against the official SDKs' test vectors (channel-protocols.md A.10).
import assert from 'node:assert/strict'
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import {
  authorizationHeader,
  decryptResource,
  encryptResource,
  parseAuthorization,
  requestMessage,
  responseMessage,
  rsaSign,
  signedResponseHeaders,
  verifyWechatSignature,
  WechatSignatureError,
} from './signing.ts'

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')
const derived = Object.fromEntries(
  fixture('wechatpay-derived-vectors.txt')
    .trim()
    .split('\n')
    .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]),
)

describe('WeChat Pay signing', () => {
  it('signs "source" exactly as wechatpay-go (vector A.10.1)', () => {
    const key = createPrivateKey(fixture('wxgo_test_key.pem').replaceAll('TESTING KEY', 'PRIVATE KEY'))
    assert.equal(
      rsaSign('source', key),
      'BKyAfU4iMCuvXMXS0Wzam3V/cnxZ+JaqigPM5OhljS2iOT95OO6Fsuml2JkFANJU9K6q9bLlDhPXuoVz+pp4hAm6pHU4ld815U4jsKu1RkyaII+1CYBUYC8TK0XtJ8FwUXXz8vZHh58rrAVN1XwNyvD1vfpxrMT4SL536GLwvpUHlCqIMzoZUguLli/K8V29QiOhuH6IEqLNJn8e9b3nwNcQ7be3CzYGpDAKBfDGPCqCv8Rw5zndhlffk2FEA70G4hvMwe51qMN/RAJbknXG23bSlObuTCN7Ndj1aJGH6/L+hdwfLpUtJm4QYVazzW7DFD27EpSQEqA8bX9+8m1rLg==',
    )
  })

  it('builds the five-line message and the header of wechatpay-go (vector A.10.2)', () => {
    assert.equal(
      requestMessage('GET', '/v3/certificates', 1624523846, 'A1B2C3D4E5F6G7', ''),
      'GET\n/v3/certificates\n1624523846\nA1B2C3D4E5F6G7\n\n',
    )
    assert.equal(
      requestMessage('POST', '/v3/certificates', 1624523846, 'A1B2C3D4E5F6G7', 'Hello World!\n'),
      'POST\n/v3/certificates\n1624523846\nA1B2C3D4E5F6G7\nHello World!\n\n',
    )
    const h = authorizationHeader({ mchid: '1234567890', serialNo: '0123456789ABC', nonce: 'A1B2C3D4E5F6G7', timestamp: '1624523846', signature: 'c2ln' })
    assert.equal(h, 'WECHATPAY2-SHA256-RSA2048 mchid="1234567890",nonce_str="A1B2C3D4E5F6G7",timestamp="1624523846",serial_no="0123456789ABC",signature="c2ln"')
    assert.deepEqual(parseAuthorization(h), { mchid: '1234567890', serialNo: '0123456789ABC', nonce: 'A1B2C3D4E5F6G7', timestamp: '1624523846', signature: 'c2ln' })
  })

  it('parses the Authorization parameters in any order, and refuses malformed ones', () => {
    const axiosOrder = 'WECHATPAY2-SHA256-RSA2048 mchid="1",serial_no="ab",timestamp="2",nonce_str="n",signature="s=="'
    assert.deepEqual(parseAuthorization(axiosOrder), { mchid: '1', serialNo: 'ab', nonce: 'n', timestamp: '2', signature: 's==' })
    assert.equal(parseAuthorization('WECHATPAY2-SHA256-RSA2048 mchid="1",serial_no="ab"'), null)
    assert.equal(parseAuthorization('Bearer x'), null)
    assert.equal(parseAuthorization(axiosOrder + ',mchid="2"'), null)
    assert.equal(parseAuthorization(axiosOrder + ' junk'), null)
  })

  it('reproduces the derived request and 204-response signatures WX-D1..D3 (cross-checked with wechatpay-axios-plugin)', () => {
    const merchantKey = createPrivateKey(fixture('wxjava_merchant_private_key.pem'))
    const wechatKey = createPrivateKey(fixture('wxjava_wechat_pay_private_key.pem'))
    const ts = 1554208460
    const nonce = '593BEC0C930BF1AFEB40B4A08C8FB242'
    const body =
      '{"appid":"wxd678efh567hg6787","mchid":"1230000109","description":"Image形象店-深圳腾大-QQ公仔","out_trade_no":"1217752501201407033233368018","notify_url":"https://www.weixin.qq.com/wxpay/pay.php","amount":{"total":100,"currency":"CNY"}}'
    assert.equal(rsaSign(requestMessage('POST', '/v3/pay/transactions/native', ts, nonce, body), merchantKey), derived['WX-D1 sig'])
    assert.equal(
      rsaSign(requestMessage('GET', '/v3/pay/transactions/out-trade-no/1217752501201407033233368018?mchid=1230000109', ts, nonce, ''), merchantKey),
      derived['WX-D2 sig'],
    )
    assert.equal(rsaSign(responseMessage(ts, nonce, ''), wechatKey), derived['WX-D3 sig (204 empty body)'])
  })
})

describe('WeChat Pay verification and decryption', () => {
  // wechatpay-go core/notify/notify_test.go: a real-shaped notification, signed and encrypted.
  const body =
    '{"id":"3119dfba-e649-5eec-ab1e-3412bc4d2e17","create_time":"2021-06-24T16:37:26+08:00","resource_type":"encrypt-resource","event_type":"PAYSCORE.USER_OPEN_SERVICE","summary":"签约成功","resource":{"original_type":"payscore","algorithm":"AEAD_AES_256_GCM","ciphertext":"YDS3lKPaC4Y52Gf3uhft5qUBlIa8b428AWTtTauHQfQrRw+X1WpiuHIDy0vo1Vd6VEq67aVyqPdDYMkRVSDaZL3iZttevRMOoPKMifozg6XPWjIZumks/GpT48lI4NizyeaqLBokNebthah3o1H76qSlO9NkDjp9bzmKLEYYH9TEklFUpsvPqOTOcgSLgh21YJXYR7dEBXFgRLiNIKRgO5JdXh1hccRUAlyVWxE54PXpnQ==","associated_data":"payscore","nonce":"Kj7QIyUiYx1q"}}'
  const headers = {
    'wechatpay-timestamp': '1624523846',
    'wechatpay-nonce': 'EcZ9Cmy4Xyx1i6RlJQzLcCyEqDa26NBz',
    'wechatpay-serial': 'D7CE59D1F522D701',
    'wechatpay-signature':
      'tJHIiIS9eB2hAYstmAmbbD3ZE5LiIm/Ug5tuL4fC0YOFRWIHV39UFIZXC0e9Wl6lBu6sKvkqDkzpqzBsVHyXFlbYZTOQrVdG4b6LfTnK4mikv9++ixJMd3vTf2yCqvBkh98zs3Ds5zsYQakzbcwhmw4fMJs4nPLws28H0UW9FjDR//rxELLwXvV1VEA1IBLX70xptjL8hrfUjEE8kkry6yNJTHZRU8CAc7qHli2Ng1V1qb9ARbK8A3ThmFmPQvRGrapI/jS2laKKgYUmfdEdkNO6B2Cke5e8VTxY406ArAmQ90GAihDwIcb16TQMnzCMBoutnwZKNiKRACrFmtxw2Q==',
  }
  const cert = new X509Certificate(fixture('wxgo_test_cert.pem'))
  const keys = new Map([[cert.serialNumber, cert.publicKey]])
  const at = 1624523846_000

  it('verifies and decrypts the wechatpay-go notification vector (A.10.3)', () => {
    assert.equal(cert.serialNumber, 'D7CE59D1F522D701')
    verifyWechatSignature({ headers, body, keys, nowMs: at + 60_000 })
    const resource = JSON.parse(body).resource
    assert.equal(
      decryptResource('testMchAPIv3Key0', resource),
      '{"mchid":"1234567890","appid":"054aa7d7a2a54ab5898df65bd96f001c","create_time":"2020-06-30T12:12:00+08:00","out_contract_code":"21640bdbd08e473e828f3206a2741c6e"}',
    )
  })

  it('matches the serial without regard to case (wechatpay-node-v3 sends lower case)', () => {
    verifyWechatSignature({ headers: { ...headers, 'wechatpay-serial': 'd7ce59d1f522d701' }, body, keys, nowMs: at })
  })

  const rejects = (reason: string, input: Partial<Parameters<typeof verifyWechatSignature>[0]>) =>
    assert.throws(
      () => verifyWechatSignature({ headers, body, keys, nowMs: at, ...input }),
      (e: unknown) => e instanceof WechatSignatureError && e.reason === reason,
    )

  it('rejects a changed body, an old timestamp, an unknown serial, a missing header and a probe', () => {
    rejects('signature_invalid', { body: body.replace('签约成功', '签约失败') })
    rejects('timestamp_out_of_window', { nowMs: at + 301_000 })
    rejects('timestamp_out_of_window', { nowMs: at - 301_000 })
    verifyWechatSignature({ headers, body, keys, nowMs: at + 300_000 })
    rejects('serial_unknown', { headers: { ...headers, 'wechatpay-serial': 'ABCDEF' } })
    rejects('headers_missing', { headers: { ...headers, 'wechatpay-nonce': undefined } })
    rejects('signature_probe', { headers: { ...headers, 'wechatpay-signature': 'WECHATPAY/SIGNTEST/' + headers['wechatpay-signature'] } })
    rejects('signature_invalid', { headers: { ...headers, 'wechatpay-signature-type': 'WECHATPAY2-SM2-WITH-SM3' } })
  })

  it('decrypts the AES-GCM util vector of wechatpay-go (A.10.4)', () => {
    assert.equal(
      decryptResource('testAPIv3Key0000', { nonce: 'wCq51qZv4Yfg', associated_data: 'Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8', ciphertext: 'FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC' }),
      'Hello World',
    )
  })

  it('encrypts and decrypts the AES-256-GCM vector of wechatpay-java (A.10.5)', () => {
    const key = 'a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb'
    assert.equal(encryptResource(key, 'message', 'uluk4a9R25RW', 'associatedData'), 'ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=')
    assert.equal(decryptResource(key, { nonce: 'uluk4a9R25RW', associated_data: 'associatedData', ciphertext: 'ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=' }), 'message')
    assert.throws(() => decryptResource(key, { nonce: 'uluk4a9R25RW', associated_data: 'transaction', ciphertext: 'ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=' }))
  })

  it('decrypts the platform certificate download vector of wechatpay-java (A.10.6)', () => {
    const pem = decryptResource('a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb', {
      nonce: '14b16c03dc1b',
      associated_data: 'certificate',
      ciphertext: fixture('wxjava_cert_ciphertext.txt').trim(),
    })
    const c = new X509Certificate(pem)
    assert.equal(c.serialNumber, '5DEA10EF55877E3CF6C33255C2E7DEFFF7E427EC')
    assert.match(c.subject, /CN=Tenpay.com sign/)
  })

  it('signs response headers that verify with the matching public key (the simulator side)', () => {
    const priv = createPrivateKey(fixture('wxjava_wechat_pay_private_key.pem'))
    const pub = createPublicKey(fixture('wxjava_wechat_pay_public_key.pem'))
    const h = signedResponseHeaders({ privateKey: priv, serial: 'PUB_KEY_ID_0114232134912410000000000000', body: '{"a":1}' })
    const lower = Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]))
    verifyWechatSignature({ headers: lower, body: '{"a":1}', keys: new Map([['PUB_KEY_ID_0114232134912410000000000000', pub]]), nowMs: Date.now() })
    // Public-key ids are matched exactly.
    assert.throws(() =>
      verifyWechatSignature({ headers: { ...lower, 'wechatpay-serial': 'pub_key_id_0114232134912410000000000000' }, body: '{"a":1}', keys: new Map([['PUB_KEY_ID_0114232134912410000000000000', pub]]), nowMs: Date.now() }),
    )
  })
})
