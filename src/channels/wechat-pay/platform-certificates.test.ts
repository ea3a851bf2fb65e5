// Learning WeChat Pay's rotated platform certificates: which downloaded certificates are believed, the
// once-per-10-minutes bound, and the adapter against the simulator after a rotation.
import assert from 'node:assert/strict'
import { randomUUID, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import type { Order } from '../../core/order.ts'
import { ChannelError } from '../../core/payment-channel.ts'
import { selfSignedCertificate } from '../self-signed-certificate.ts'
import { rfc3339Shanghai } from '../shanghai-time.ts'
import { parseWechatPayCredentials, type WechatPayCredentials } from './credentials.ts'
import { certificatesInAnswer, DOWNLOAD_INTERVAL_MS, PlatformCertificates, usesPlatformCertificates } from './platform-certificates.ts'
import { encryptResource, newNonce, signedResponseHeaders } from './signing.ts'
import { WechatPaySimulator } from './simulator.ts'
import { NotificationRejected, WechatPayChannel } from './wechat-pay-channel.ts'

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')
/** wechatpay-java's downloaded certificate vector: serial 5DEA10EF…, valid until 2028-09-17. */
const JAVA_SERIAL = '5DEA10EF55877E3CF6C33255C2E7DEFFF7E427EC'
const javaEntry = (serial = JAVA_SERIAL) => ({
  serial_no: serial,
  effective_time: '2023-09-19T23:15:58+08:00',
  expire_time: '2028-09-17T23:15:58+08:00',
  encrypt_certificate: { algorithm: 'AEAD_AES_256_GCM', associated_data: 'certificate', nonce: '14b16c03dc1b', ciphertext: fixture('wxjava_cert_ciphertext.txt').trim() },
})
const JAVA_APIV3_KEY = 'a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb'

function sealed(apiV3Key: string, pem: string, serial: string) {
  const nonce = newNonce(12)
  return { serial_no: serial, encrypt_certificate: { algorithm: 'AEAD_AES_256_GCM', associated_data: 'certificate', nonce, ciphertext: encryptResource(apiV3Key, pem, nonce, 'certificate') } }
}

describe('certificatesInAnswer', () => {
  const now = Date.parse('2026-01-01T00:00:00Z')

  it('decrypts a /v3/certificates answer with the APIv3 key (the wechatpay-java vector)', () => {
    const found = certificatesInAnswer(JAVA_APIV3_KEY, JSON.stringify({ data: [javaEntry(JAVA_SERIAL.toLowerCase())] }), now)
    assert.deepEqual([...found.keys()], [JAVA_SERIAL])
  })

  it('leaves out what does not decrypt, is not a certificate, is listed under another serial, or has expired', () => {
    const key = newNonce(32)
    const other = selfSignedCertificate({ CN: 'other' })
    const answer = (entries: unknown[]) => JSON.stringify({ data: entries })
    assert.equal(certificatesInAnswer(newNonce(32), answer([javaEntry()]), now).size, 0, 'another APIv3 key')
    assert.equal(certificatesInAnswer(key, answer([sealed(key, 'not a certificate', 'ABCDEF')]), now).size, 0)
    assert.equal(certificatesInAnswer(key, answer([sealed(key, other.certificatePem, JAVA_SERIAL)]), now).size, 0, 'listed under another serial')
    assert.equal(certificatesInAnswer(JAVA_APIV3_KEY, answer([javaEntry()]), Date.parse('2028-09-18T00:00:00Z')).size, 0, 'expired')
    assert.equal(certificatesInAnswer(JAVA_APIV3_KEY, answer([{ ...javaEntry(), encrypt_certificate: { ...javaEntry().encrypt_certificate, algorithm: 'NONE' } }]), now).size, 0)
    assert.equal(certificatesInAnswer(key, 'not json', now).size, 0)
    assert.equal(certificatesInAnswer(key, '{"code":"RESOURCE_NOT_EXISTS"}', now).size, 0)
    // The good ones of a mixed answer are kept.
    const mixed = certificatesInAnswer(key, answer([sealed(key, other.certificatePem, other.serial), sealed(key, 'junk', 'AB'), null]), now)
    assert.deepEqual([...mixed.keys()], [other.serial])
  })
})

describe('PlatformCertificates', () => {
  const pem = (name: string) => selfSignedCertificate({ CN: name })
  const configured = pem('configured')
  const fresh = pem('fresh')
  const credentials = (over: Partial<WechatPayCredentials> = {}): WechatPayCredentials => {
    const parsed = parseWechatPayCredentials({
      mchid: '1900000109',
      appid: 'wx8888888888888888',
      merchant_serial_no: configured.serial,
      merchant_private_key: configured.privateKeyPem,
      apiv3_key: 'a'.repeat(32),
      wechatpay_certificates: [configured.certificatePem],
    })
    assert.ok(parsed.ok)
    return { ...parsed.value, ...over }
  }
  const publicKeyMode = (): WechatPayCredentials => ({ ...credentials(), platformKeys: new Map([['PUB_KEY_ID_0114232134912410000000000000', configured.privateKey]]) })

  function setup(download: (merchantId: string) => Promise<Map<string, KeyObject>> = async () => new Map([[fresh.serial, fresh.privateKey]])) {
    let now = 1_000_000
    const calls: string[] = []
    const certs = new PlatformCertificates(async (merchantId) => {
      calls.push(merchantId)
      return download(merchantId)
    }, () => now)
    return { certs, calls, advance: (ms: number) => (now += ms) }
  }

  it('tells certificate mode from public-key mode', () => {
    assert.equal(usesPlatformCertificates(credentials()), true)
    assert.equal(usesPlatformCertificates(publicKeyMode()), false)
  })

  it('learns the downloaded certificates for that merchant only, without changing its credentials', async () => {
    const { certs, calls } = setup()
    const creds = credentials()
    await certs.refresh('mch_a', creds, fresh.serial)
    assert.deepEqual(calls, ['mch_a'])
    assert.deepEqual([...certs.keys('mch_a', creds).keys()].sort(), [configured.serial, fresh.serial].sort())
    assert.deepEqual([...creds.platformKeys.keys()], [configured.serial], 'the cached credentials are untouched')
    assert.deepEqual([...certs.keys('mch_b', creds).keys()], [configured.serial])
    // Credentials set anew (here another APIv3 key) do not inherit what was learned under the old ones.
    assert.deepEqual([...certs.keys('mch_a', credentials({ apiV3Key: 'b'.repeat(32) })).keys()], [configured.serial])
  })

  it('downloads at most once per merchant per 10 minutes, whatever the serials asked for', async () => {
    const { certs, calls, advance } = setup()
    const creds = credentials()
    for (const serial of ['0A', '0B', fresh.serial, '0C']) await certs.refresh('mch_a', creds, serial)
    assert.equal(calls.length, 1)
    advance(DOWNLOAD_INTERVAL_MS - 1)
    await certs.refresh('mch_a', creds, '0D')
    assert.equal(calls.length, 1)
    await certs.refresh('mch_b', creds, '0D')
    assert.deepEqual(calls, ['mch_a', 'mch_b'], 'another merchant has its own window')
    advance(1)
    await certs.refresh('mch_a', creds, '0E')
    assert.deepEqual(calls, ['mch_a', 'mch_b', 'mch_a'])
  })

  it('shares one download among concurrent needs', async () => {
    let finish!: (keys: Map<string, KeyObject>) => void
    const { certs, calls } = setup(() => new Promise((resolve) => (finish = resolve)))
    const creds = credentials()
    const waiting = Array.from({ length: 5 }, (_, i) => certs.refresh('mch_a', creds, `0${i}`))
    await new Promise((r) => setImmediate(r))
    assert.equal(calls.length, 1)
    finish(new Map([[fresh.serial, fresh.privateKey]]))
    await Promise.all(waiting)
    assert.ok(certs.keys('mch_a', creds).has(fresh.serial), 'every waiter sees the learned certificate')
  })

  it('a failed download never throws, keeps what was known, says why, and is not retried within the window', async () => {
    let fail = true
    const { certs, calls, advance } = setup(async () => {
      if (fail) throw new ChannelError('GET /v3/certificates: timed out after 10000 ms', true, true)
      return new Map([[fresh.serial, fresh.privateKey]])
    })
    const creds = credentials()
    await certs.refresh('mch_a', creds, fresh.serial)
    assert.deepEqual([...certs.keys('mch_a', creds).keys()], [configured.serial])
    assert.match(certs.lastFailure('mch_a', creds)!, /timed out/)
    fail = false
    await certs.refresh('mch_a', creds, fresh.serial)
    assert.equal(calls.length, 1)
    advance(DOWNLOAD_INTERVAL_MS)
    await certs.refresh('mch_a', creds, fresh.serial)
    assert.equal(calls.length, 2)
    assert.ok(certs.keys('mch_a', creds).has(fresh.serial))
    assert.equal(certs.lastFailure('mch_a', creds), null)
  })

  it('never downloads for a public-key-mode merchant, nor for an unknown public key id', async () => {
    const { certs, calls } = setup()
    await certs.refresh('mch_a', publicKeyMode(), fresh.serial)
    await certs.refresh('mch_b', credentials(), 'PUB_KEY_ID_0114232134912410000000000001')
    await certs.refresh('mch_b', credentials(), undefined)
    assert.deepEqual(calls, [])
  })
})

describe('the WeChat Pay adapter after WeChat rotates its platform certificate (simulator)', () => {
  const sim = new WechatPaySimulator({ serialMode: 'certificate' })
  const pkSim = new WechatPaySimulator({ serialMode: 'public-key' })
  let creds: WechatPayCredentials
  let pkCreds: WechatPayCredentials
  const clock = { now: () => Date.now() }
  const order = (merchantId: string, id: string): Order => {
    const now = Date.now()
    return {
      id, merchantId, mode: 'live', status: 'pending', outTradeNo: id, amount: 1234, amountRefunded: 0, currency: 'CNY', subject: '拿铁 Latte',
      description: null, metadata: {}, channels: ['wechatpay'], notifyUrl: null, returnUrl: null, payToken: 't', channel: null, channelTradeNo: null,
      requestHash: 'h', createdAt: now, expiresAt: now + 15 * 60_000, paidAt: null, closedAt: null, updatedAt: now,
    }
  }
  /** A TRANSACTION.SUCCESS notification for `s`'s merchant, signed by `key` under `serial`. */
  function notification(s: WechatPaySimulator, paymentId: string, key = s.identity.platformKey, serial = s.signingSerial) {
    const m = s.identity.merchant
    const plain = JSON.stringify({ mchid: m.mchid, appid: m.appid, out_trade_no: paymentId, transaction_id: '4200000000000000000000000001', trade_type: 'NATIVE', trade_state: 'SUCCESS', trade_state_desc: '支付成功', success_time: rfc3339Shanghai(Date.now()), amount: { total: 1234, payer_total: 1234, currency: 'CNY', payer_currency: 'CNY' } })
    const nonce = newNonce(12)
    const rawBody = JSON.stringify({ id: randomUUID(), create_time: rfc3339Shanghai(Date.now()), resource_type: 'encrypt-resource', event_type: 'TRANSACTION.SUCCESS', summary: '支付成功', resource: { original_type: 'transaction', algorithm: 'AEAD_AES_256_GCM', ciphertext: encryptResource(m.apiV3Key, plain, nonce, 'transaction'), associated_data: 'transaction', nonce } })
    const headers = Object.fromEntries(Object.entries(signedResponseHeaders({ privateKey: key, serial, body: rawBody })).map(([k, v]) => [k.toLowerCase(), v]))
    return { headers, rawBody }
  }
  const parse = (doc: Record<string, unknown>) => {
    const p = parseWechatPayCredentials(doc)
    assert.ok(p.ok, JSON.stringify(p))
    return p.value
  }

  before(async () => {
    await sim.start()
    await pkSim.start()
    creds = parse(sim.credentialsDocument())
    pkCreds = parse(pkSim.credentialsDocument())
    sim.rotatePlatformCertificate()
  })
  after(async () => {
    await sim.stop()
    await pkSim.stop()
  })

  it('the simulator signs with its new certificate from the rotation on; public-key mode has none to rotate', () => {
    assert.equal(sim.signingSerial, sim.identity.platformSerial)
    assert.ok(!creds.platformKeys.has(sim.signingSerial))
    assert.deepEqual(sim.credentialsDocument().wechatpay_certificates, [sim.identity.platformCertPem])
    assert.throws(() => pkSim.rotatePlatformCertificate(), /certificate mode/)
  })

  it('an answer signed with the new certificate is believed after one download', async () => {
    const channel = new WechatPayChannel({ credentials: async () => creds, clock })
    const created = await channel.createPayment({ paymentId: 'pay_rotated_0001', order: order('mch_a', 'ord_r1'), notifyUrl: 'https://example.com/notify', openedAt: Date.now() })
    assert.match(created.qrContent!, /^weixin:\/\//)
    assert.equal(sim.certificateDownloads, 1)
    assert.deepEqual(await channel.queryPayment({ paymentId: 'pay_rotated_0001', order: order('mch_a', 'ord_r1') }), { status: 'pending' })
    assert.equal(sim.certificateDownloads, 1, 'the learned certificate is kept')
  })

  it('a notification signed with the new certificate is accepted at the merchant-scoped URL; the merchant-less one downloads nothing', async () => {
    const downloads = sim.certificateDownloads
    const unscoped = new WechatPayChannel({ credentials: async () => creds, credentialsForSerial: async () => [], clock })
    const n = notification(sim, 'pay_rotated_0002')
    await assert.rejects(unscoped.parseNotification({ ...n }), (e: unknown) => e instanceof NotificationRejected && e.reason === 'merchant_unknown')
    assert.equal(sim.certificateDownloads, downloads)
    const channel = new WechatPayChannel({ credentials: async () => creds, clock })
    const parsed = await channel.parseNotification({ ...n, merchantId: 'mch_b' })
    assert.deepEqual([parsed.merchantId, parsed.paymentId, parsed.state.status], ['mch_b', 'pay_rotated_0002', 'succeeded'])
    assert.equal(sim.certificateDownloads, downloads + 1)
  })

  it('a made-up serial is refused as before, after at most one download', async () => {
    const channel = new WechatPayChannel({ credentials: async () => creds, clock })
    const attacker = selfSignedCertificate({ CN: 'attacker' })
    const downloads = sim.certificateDownloads
    const forged = () => notification(sim, 'pay_rotated_0003', attacker.privateKey, attacker.serial)
    const refusals = await Promise.allSettled(Array.from({ length: 5 }, () => channel.parseNotification({ ...forged(), merchantId: 'mch_c' })))
    refusals.push(...(await Promise.allSettled([channel.parseNotification({ ...forged(), merchantId: 'mch_c' })])))
    for (const r of refusals) assert.ok(r.status === 'rejected' && r.reason instanceof NotificationRejected && r.reason.reason === 'serial_unknown', String(r.status === 'rejected' && r.reason))
    assert.equal(sim.certificateDownloads, downloads + 1)
  })

  it('a download that fails or does not verify leaves the same verification failure, never another error', async () => {
    const n = notification(sim, 'pay_rotated_0004')
    const broken = new WechatPayChannel({ credentials: async () => creds, clock, fetch: async () => { throw new ChannelError('GET /v3/certificates: connection reset', true, true) } })
    await assert.rejects(broken.parseNotification({ ...n, merchantId: 'mch_d' }), (e: unknown) => e instanceof NotificationRejected && e.reason === 'serial_unknown' && /connection reset/.test(e.message))
    // An answer listing the new certificate but signed by someone else: the certificate is not learned.
    const attacker = selfSignedCertificate({ CN: 'attacker' })
    const body = JSON.stringify({ data: [sealed(creds.apiV3Key, sim.identity.platformCertPem, sim.identity.platformSerial)] })
    const forgedAnswer = new WechatPayChannel({ credentials: async () => creds, clock, fetch: async () => ({ status: 200, headers: new Headers(signedResponseHeaders({ privateKey: attacker.privateKey, serial: attacker.serial, body })), text: body }) })
    await assert.rejects(forgedAnswer.parseNotification({ ...n, merchantId: 'mch_d' }), (e: unknown) => e instanceof NotificationRejected && e.reason === 'serial_unknown')
    await assert.rejects(forgedAnswer.parseNotification({ ...n, merchantId: 'mch_d' }), (e: unknown) => e instanceof NotificationRejected && e.reason === 'serial_unknown')
  })

  it('a public-key-mode merchant never downloads', async () => {
    const channel = new WechatPayChannel({ credentials: async () => pkCreds, clock })
    const attacker = selfSignedCertificate({ CN: 'attacker' })
    await assert.rejects(channel.parseNotification({ ...notification(pkSim, 'pay_pk_0001', attacker.privateKey, attacker.serial), merchantId: 'mch_e' }), (e: unknown) => e instanceof NotificationRejected && e.reason === 'serial_unknown')
    await channel.createPayment({ paymentId: 'pay_pk_0002', order: order('mch_e', 'ord_pk'), notifyUrl: 'https://example.com/notify', openedAt: Date.now() })
    assert.equal(pkSim.certificateDownloads, 0)
  })
})
