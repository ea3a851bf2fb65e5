// Credentials as the notify routes read them: a notification without a merchant in its URL finds the merchants
// trusting its WeChat key serial through an index rebuilt at most once a minute (anyone can send one, so a flood
// must not parse every merchant's keys each time); and a flood of made-up merchant ids cannot empty the cache.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { it } from 'node:test'
import { SecretBox } from '../security/secret-box.ts'
import type { SqlChannelCredentialStore, StoredChannelCredentials } from '../storage/channel-credential-store.ts'
import { ChannelCredentials, parseCredentials } from './channel-credentials.ts'

const wx = (f: string) => readFileSync(new URL(`./wechat-pay/fixtures/${f}`, import.meta.url), 'utf8')
const doc = {
  mchid: '1230000109', appid: 'wxd678efh567hg6787', merchant_serial_no: '5F1C72E2A8931B72A2E13AF8DEE92471EB397115',
  merchant_private_key: wx('wxjava_merchant_private_key.pem'), merchant_certificate: wx('wxjava_merchant_certificate.pem'),
  apiv3_key: 'a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb', wechatpay_public_key_id: 'PUB_KEY_ID_0114232134912410000000000000', wechatpay_public_key: wx('wxjava_wechat_pay_public_key.pem'),
}

function setup() {
  const rows = new Map<string, StoredChannelCredentials>()
  const calls = { merchantsOf: 0, get: 0 }
  const store = {
    put: async (merchantId: string, channel: string, accountId: string, credentialsEnc: string, now: number) => {
      rows.set(`${channel}:${merchantId}`, { merchantId, channel, accountId, credentialsEnc, createdAt: now, updatedAt: now })
    },
    get: async (merchantId: string, channel: string) => (calls.get++, rows.get(`${channel}:${merchantId}`) ?? null),
    merchantsOf: async (channel: string) => (calls.merchantsOf++, [...rows.values()].filter((r) => r.channel === channel).map((r) => r.merchantId)),
  } as unknown as SqlChannelCredentialStore
  let now = Date.UTC(2026, 10, 28)
  const credentials = new ChannelCredentials(store, new SecretBox(randomBytes(32)), () => now)
  return { credentials, calls, advance: (ms: number) => (now += ms) }
}

it('finds the merchants trusting a serial from an index built once a minute, and at once after a change', async () => {
  const { credentials, calls, advance } = setup()
  assert.ok((await credentials.set('mch_a', 'wechatpay', doc)).ok)
  const found = await Promise.all(Array.from({ length: 20 }, () => credentials.wechatpayBySerial('pub_key_id_0114232134912410000000000000')))
  assert.deepEqual(found.map((f) => f.map((c) => c.merchantId)), Array.from({ length: 20 }, () => ['mch_a']))
  assert.deepEqual(await credentials.wechatpayBySerial('5DEA10EF'), [])
  assert.equal(calls.merchantsOf, 1, 'one index for every request of the minute')
  await credentials.set('mch_b', 'wechatpay', doc)
  assert.deepEqual((await credentials.wechatpayBySerial('PUB_KEY_ID_0114232134912410000000000000')).map((c) => c.merchantId), ['mch_a', 'mch_b'])
  advance(61_000)
  await credentials.wechatpayBySerial('PUB_KEY_ID_0114232134912410000000000000')
  assert.equal(calls.merchantsOf, 3)
})

it('keeps at most 10,000 merchants\' credentials, pushing out the oldest one at a time', async () => {
  const { credentials, calls } = setup()
  await credentials.set('mch_a', 'wechatpay', doc)
  assert.ok(await credentials.wechatpay('mch_a'))
  for (let i = 0; i < 9_998; i++) await credentials.wechatpay(`mch_made_up_${i}`)
  const gets = calls.get
  assert.ok(await credentials.wechatpay('mch_a'))
  assert.equal(calls.get, gets, 'still cached: nothing cleared it')
  for (let i = 0; i < 10_000; i++) await credentials.wechatpay(`mch_made_up_more_${i}`)
  assert.ok(await credentials.wechatpay('mch_a'))
  assert.equal(calls.get, gets + 10_001, 'pushed out in turn, read again once')
})

it('takes a channel gateway over http only outside production', () => {
  const ali = (f: string) => readFileSync(new URL(`./alipay/fixtures/${f}`, import.meta.url), 'utf8')
  const alipay = { app_id: '2021000000000000', app_private_key: ali('alipaysdk_app-private-key.pem'), alipay_public_key: ali('alipaysdk_alipay-public-key.pem') }
  const cases = [
    ['wechatpay', { ...doc, api_base_url: 'http://127.0.0.1:9000' }, 'api_base_url'],
    ['alipay', { ...alipay, gateway_url: 'http://127.0.0.1:9001/gateway.do' }, 'gateway_url'],
  ] as const
  for (const [channel, plain, field] of cases) {
    assert.ok(parseCredentials(channel, plain).ok, `${channel} in development`)
    assert.deepEqual(parseCredentials(channel, plain, { production: true }), { ok: false, errors: [`${field} must be an https URL in production`] })
    const { [field]: _, ...byDefault } = plain as Record<string, unknown>
    assert.ok(parseCredentials(channel, byDefault, { production: true }).ok, `${channel}'s own https gateway`)
  }
})

it('lists a field the channel does not have among the problems, with the one meant where it is a letter or two away', () => {
  const ali = (f: string) => readFileSync(new URL(`./alipay/fixtures/${f}`, import.meta.url), 'utf8')
  const alipay = { app_id: '2021000000000000', app_private_key: ali('alipaysdk_app-private-key.pem'), alipay_public_key: ali('alipaysdk_alipay-public-key.pem') }
  assert.deepEqual(parseCredentials('alipay', { ...alipay, seler_id: '2088102147948060' }), { ok: false, errors: ['unknown field seler_id (did you mean seller_id?)'] })
  assert.deepEqual(parseCredentials('wechatpay', { ...doc, api_base_uri: 'http://127.0.0.1:9000', colour: 'red' }), {
    ok: false,
    errors: ['unknown field api_base_uri (did you mean api_base_url?)', 'unknown field colour'],
  })
  // Beside the other problems, not instead of them; a *_file field left unread is named as written.
  const { apiv3_key: _, ...noKey } = doc
  assert.deepEqual(parseCredentials('wechatpay', { ...noKey, merchant_certificat_file: 'cert.pem' }), {
    ok: false,
    errors: ['apiv3_key is required', 'unknown field merchant_certificat_file (did you mean merchant_certificate_file?)'],
  })
  // Another channel's field is unknown here.
  assert.equal(parseCredentials('alipay', { ...alipay, mchid: '1230000109' }).ok, false)
})
