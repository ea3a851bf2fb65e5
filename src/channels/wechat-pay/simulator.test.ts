// The WeChat Pay simulator against ScanPay's adapter and against independent clients (wechatpay-axios-plugin,
// wechatpay-node-v3), which must work against it unchanged; and its refusals, retries and probes.
import assert from 'node:assert/strict'
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync } from 'node:fs'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createRequire } from 'node:module'
import type { Order } from '../../core/order.ts'
import { ChannelError } from '../../core/payment-channel.ts'
import { parseWechatPayCredentials, type WechatPayCredentials } from './credentials.ts'
import { encryptResource, newNonce, signedResponseHeaders, signRequest } from './signing.ts'
import { CODE_URL_LIFETIME_MS, WechatPaySimulator } from './simulator.ts'
import { NotificationRejected, WechatPayChannel } from './wechat-pay-channel.ts'
import { parseTradeBill } from './bill.ts'

const require = createRequire(import.meta.url)

/** A merchant endpoint: records notifications and answers with the status it is told. */
class Endpoint {
  received: { headers: IncomingHttpHeaders; body: string }[] = []
  statuses: number[] = []
  fallback = 204
  #server: Server | null = null
  url = ''
  onRequest: ((r: { headers: IncomingHttpHeaders; body: string }) => number) | null = null
  async start() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const r = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }
        this.received.push(r)
        res.writeHead(this.onRequest ? this.onRequest(r) : (this.statuses.shift() ?? this.fallback)).end()
      })
    })
    await new Promise<void>((r) => this.#server!.listen(0, '127.0.0.1', r))
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/notify`
    return this
  }
  async stop() {
    this.#server?.closeAllConnections()
    await new Promise<void>((r) => this.#server?.close(() => r()))
  }
}

function order(id: string, amount = 1234, minutes = 15): Order {
  const now = Date.now()
  return {
    id, merchantId: 'mch_test', mode: 'live', status: 'pending', outTradeNo: id, amount, amountRefunded: 0, currency: 'CNY',
    subject: '拿铁 Latte', description: null, metadata: {}, channels: ['wechatpay'], notifyUrl: null, returnUrl: null,
    payToken: 't', channel: null, channelTradeNo: null, requestHash: 'h', createdAt: now, expiresAt: now + minutes * 60_000,
    paidAt: null, closedAt: null, updatedAt: now,
  }
}

async function eventually<T>(fn: () => T | undefined | null | false, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = fn()
    if (v) return v
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('WeChat Pay simulator with the ScanPay adapter', () => {
  const keysDir = mkdtempSync(join(tmpdir(), 'wxsim-'))
  const sim = new WechatPaySimulator({ keysDir, retryScale: 0.002, refundDelayMs: 50 })
  const endpoint = new Endpoint()
  let creds: WechatPayCredentials
  let channel: WechatPayChannel
  before(async () => {
    await sim.start()
    await endpoint.start()
    const parsed = parseWechatPayCredentials(JSON.parse(readFileSync(join(keysDir, 'wechatpay-credentials.json'), 'utf8')))
    assert.ok(parsed.ok, JSON.stringify(parsed))
    creds = parsed.value
    channel = new WechatPayChannel({ credentials: async () => creds, clock: { now: () => Date.now() } })
  })
  after(async () => {
    await sim.stop()
    await endpoint.stop()
  })

  it('a prepay retried later, in an order\'s last minute, sends the same body and gets the same code back', async () => {
    // The adapter's clock 15 s on between the tries (a timeout, then a retry): a time_expire read off that clock
    // would differ, and WeChat (the simulator too) refuses a changed body as OUT_TRADE_NO_USED.
    let offset = 0
    const later = new WechatPayChannel({ credentials: async () => creds, clock: { now: () => Date.now() + offset } })
    const o = { ...order('ord_retry'), expiresAt: Date.now() + 50_000 }
    const first = await later.createPayment({ paymentId: 'pay_wx_retry00001', order: o, notifyUrl: endpoint.url, openedAt: Date.now() })
    offset = 15_000
    assert.equal((await later.createPayment({ paymentId: 'pay_wx_retry00001', order: o, notifyUrl: endpoint.url, openedAt: Date.now() })).qrContent, first.qrContent)
  })

  it('a code_url is scanned for 2 hours; the same prepay after that gives the order a new one, and the old one no longer pays', async () => {
    const o = order('ord_code', 1234, 600)
    const open = () => channel.createPayment({ paymentId: 'pay_wx_code000001', order: o, notifyUrl: endpoint.url, openedAt: o.createdAt })
    const first = await open()
    const simOrder = sim.orders.get(`${creds.mchid}:pay_wx_code000001`)!
    simOrder.codeIssuedAt -= CODE_URL_LIFETIME_MS
    assert.throws(() => sim.pay(first.qrContent!, { notify: false }), /expired/)
    const renewed = await open()
    assert.notEqual(renewed.qrContent, first.qrContent)
    assert.equal(sim.pay(renewed.qrContent!, { notify: false }).state, 'SUCCESS')
    assert.equal(channel.codeLifetimeMs, CODE_URL_LIFETIME_MS)
  })

  it('opens a Native order, is paid, notifies (signed, encrypted), and the adapter verifies and decrypts it', async () => {
    const o = order('ord_a1')
    const created = await channel.createPayment({ paymentId: 'pay_wx_0000000001', order: o, notifyUrl: endpoint.url, openedAt: Date.now() })
    assert.match(created.qrContent!, /^weixin:\/\/wxpay\/bizpayurl\?pr=/)
    // The same prepay again returns the same code_url, as WeChat does.
    assert.equal((await channel.createPayment({ paymentId: 'pay_wx_0000000001', order: o, notifyUrl: endpoint.url, openedAt: Date.now() })).qrContent, created.qrContent)
    assert.deepEqual(await channel.queryPayment({ paymentId: 'pay_wx_0000000001', order: o }), { status: 'pending' })
    sim.pay(created.qrContent!)
    const n = await eventually(() => endpoint.received[0])
    const parsed = await channel.parseNotification({ headers: n.headers, rawBody: n.body, merchantId: 'mch_test' })
    assert.equal(parsed.paymentId, 'pay_wx_0000000001')
    assert.equal(parsed.state.status, 'succeeded')
    assert.equal(parsed.state.status === 'succeeded' && parsed.state.amount, 1234)
    assert.equal(JSON.parse(n.body).resource.associated_data, 'transaction')
    const q = await channel.queryPayment({ paymentId: 'pay_wx_0000000001', order: o })
    assert.equal(q.status, 'succeeded')
    // A refund is PROCESSING at first, then SUCCESS.
    const paidOrder = { ...o, status: 'paid' as const, channel: 'wechatpay' as const, channelTradeNo: q.status === 'succeeded' ? q.channelTradeNo : null }
    assert.deepEqual(await channel.refund({ refundId: 'rfd_wx_1', order: paidOrder, amount: 234, currency: 'CNY', reason: 'test' }), { status: 'pending' })
    let settled = await channel.queryRefund({ refundId: 'rfd_wx_1', order: paidOrder, requestedAt: Date.now() })
    for (let i = 0; i < 100 && settled.status === 'pending'; i++) {
      await new Promise((r) => setTimeout(r, 20))
      settled = await channel.queryRefund({ refundId: 'rfd_wx_1', order: paidOrder, requestedAt: Date.now() })
    }
    assert.equal(settled.status, 'succeeded')
    // The answer's create_time, the day the bill lists the refund on, is when it was asked for.
    assert.ok(settled.status === 'succeeded' && settled.datedAt !== undefined && Math.abs(settled.datedAt - Date.now()) < 5000, JSON.stringify(settled))
    await assert.rejects(channel.refund({ refundId: 'rfd_wx_2', order: paidOrder, amount: 1001, currency: 'CNY', reason: null }), (e: unknown) => e instanceof ChannelError && !e.outcomeUnknown)
  })

  it('retries an unaccepted notification on the (compressed) schedule with the same id, and the adapter rejects changed copies', async () => {
    endpoint.received = []
    endpoint.statuses = [500, 503]
    const o = order('ord_a2')
    const { qrContent } = await channel.createPayment({ paymentId: 'pay_wx_0000000002', order: o, notifyUrl: endpoint.url, openedAt: Date.now() })
    sim.pay(qrContent!)
    await eventually(() => endpoint.received.length >= 3)
    const ids = endpoint.received.map((r) => JSON.parse(r.body).id)
    assert.equal(new Set(ids).size, 1)
    const n = endpoint.received[2]!
    const rejected = (headers: IncomingHttpHeaders, body: string, reason: string) =>
      assert.rejects(channel.parseNotification({ headers, rawBody: body, merchantId: 'mch_test' }), (e: unknown) => e instanceof NotificationRejected && e.reason === reason)
    await rejected(n.headers, n.body.replace('"TRANSACTION.SUCCESS"', '"TRANSACTION.SUCCESS" '), 'signature_invalid')
    await rejected({ ...n.headers, 'wechatpay-timestamp': String(Math.floor(Date.now() / 1000) - 400) }, n.body, 'timestamp_out_of_window')
    await rejected({ ...n.headers, 'wechatpay-signature': 'WECHATPAY/SIGNTEST/' + n.headers['wechatpay-signature'] }, n.body, 'signature_probe')
  })

  it('a genuinely signed notification without event_type, or whose resource is not JSON, is rejected as body_invalid', async () => {
    const signed = (envelope: Record<string, unknown>, plain: string) => {
      const nonce = newNonce(12)
      const body = JSON.stringify({
        id: 'EV-malformed', create_time: '2026-11-28T10:00:00+08:00', resource_type: 'encrypt-resource', summary: '?', ...envelope,
        resource: { original_type: 'transaction', algorithm: 'AEAD_AES_256_GCM', ciphertext: encryptResource(creds.apiV3Key, plain, nonce, 'transaction'), associated_data: 'transaction', nonce },
      })
      const headers = Object.fromEntries(Object.entries(signedResponseHeaders({ privateKey: sim.identity.platformKey, serial: sim.signingSerial, body })).map(([k, v]) => [k.toLowerCase(), v]))
      return channel.parseNotification({ headers, rawBody: body, merchantId: 'mch_test' })
    }
    const isBodyInvalid = (e: unknown) => e instanceof NotificationRejected && e.reason === 'body_invalid'
    await assert.rejects(signed({}, JSON.stringify({ mchid: creds.mchid, out_trade_no: 'pay_x', trade_state: 'SUCCESS' })), isBodyInvalid)
    await assert.rejects(signed({ event_type: 'REFUND.SUCCESS' }, 'not json'), isBodyInvalid)
    await assert.rejects(signed({ event_type: 'TRANSACTION.SUCCESS' }, '"a string"'), isBodyInvalid)
  })

  it('a signed refund answer about another refund settles nothing: the outcome is still to be asked', async () => {
    const answer = (outRefundNo: string) => {
      const body = JSON.stringify({ refund_id: '50000000382019052709732678859', out_refund_no: outRefundNo, status: 'SUCCESS', amount: { total: 1234, refund: 234 } })
      return { status: 200, headers: new Headers(signedResponseHeaders({ privateKey: sim.identity.platformKey, serial: sim.signingSerial, body })), text: body }
    }
    let reply = answer('rfd_other')
    const stubbed = new WechatPayChannel({ credentials: async () => creds, clock: { now: () => Date.now() }, fetch: async () => reply })
    const paid = { ...order('ord_a9'), status: 'paid' as const, channel: 'wechatpay' as const, channelTradeNo: '4200000000000000000000000001' }
    for (const call of [() => stubbed.refund({ refundId: 'rfd_mine', order: paid, amount: 234, currency: 'CNY', reason: null }), () => stubbed.queryRefund({ refundId: 'rfd_mine', order: paid, requestedAt: Date.now() })]) {
      await assert.rejects(call(), (e: unknown) => e instanceof ChannelError && e.outcomeUnknown && /rfd_other/.test(e.message))
    }
    reply = answer('rfd_mine')
    assert.equal((await stubbed.queryRefund({ refundId: 'rfd_mine', order: paid, requestedAt: Date.now() })).status, 'succeeded')
  })

  it('reads a 4xx in WeChat\'s error shape as a refusal, and one without it (a proxy\'s page) as an unknown outcome', async () => {
    const paid = { ...order('ord_a10'), status: 'paid' as const, channel: 'wechatpay' as const, channelTradeNo: '4200000000000000000000000002' }
    const refundWith = (reply: { status: number; text: string }) =>
      new WechatPayChannel({ credentials: async () => creds, clock: { now: () => Date.now() }, fetch: async () => ({ ...reply, headers: new Headers({ 'content-type': 'text/html' }) }) })
        .refund({ refundId: 'rfd_4xx', order: paid, amount: 234, currency: 'CNY', reason: null })
    await assert.rejects(refundWith({ status: 400, text: JSON.stringify({ code: 'PARAM_ERROR', message: '参数错误' }) }), (e: unknown) => e instanceof ChannelError && !e.outcomeUnknown)
    await assert.rejects(refundWith({ status: 408, text: '<html>Request Timeout</html>' }), (e: unknown) => e instanceof ChannelError && e.outcomeUnknown)
  })

  it('cuts a refund reason to the 80 bytes WeChat takes (not 80 characters), as the simulator refuses more', async () => {
    const o = order('ord_a11')
    const { qrContent } = await channel.createPayment({ paymentId: 'pay_wx_0000000011', order: o, notifyUrl: endpoint.url, openedAt: Date.now() })
    const paid = { ...o, status: 'paid' as const, channel: 'wechatpay' as const, channelTradeNo: sim.pay(qrContent!, { notify: false }).transactionId }
    // 40 汉字: well within what the refunds API takes, but 120 bytes.
    const reason = '顾客退回商品，原路退款。'.repeat(4).slice(0, 40)
    assert.deepEqual(await channel.refund({ refundId: 'rfd_wx_reason', order: paid, amount: 100, currency: 'CNY', reason }), { status: 'pending' })
    assert.equal(sim.orders.get(`${creds.mchid}:pay_wx_0000000011`)!.refunds[0]!.outRefundNo, 'rfd_wx_reason')

    const path = '/v3/refund/domestic/refunds'
    const send = (reasonText: string, outRefundNo: string) => {
      const body = JSON.stringify({ transaction_id: paid.channelTradeNo, out_refund_no: outRefundNo, reason: reasonText, amount: { refund: 1, total: 1234, currency: 'CNY' } })
      const authorization = signRequest({ mchid: creds.mchid, serialNo: creds.serialNo, privateKey: creds.privateKey, method: 'POST', canonicalUrl: path, body })
      return fetch(sim.url + path, { method: 'POST', headers: { authorization, accept: 'application/json', 'content-type': 'application/json' }, body })
    }
    const refused = await send('退'.repeat(27), 'rfd_wx_reason81')
    assert.deepEqual([refused.status, (await refused.json()).code], [400, 'PARAM_ERROR'])
    assert.equal((await send('退'.repeat(26), 'rfd_wx_reason78')).status, 200)
  })

  it('sends signature probes that the adapter refuses', async () => {
    endpoint.received = []
    endpoint.onRequest = (r) => {
      const ok = channel.parseNotification({ headers: r.headers, rawBody: r.body, merchantId: 'mch_test' })
      void ok.catch(() => {})
      return String(r.headers['wechatpay-signature']).startsWith('WECHATPAY/SIGNTEST/') ? 500 : 204
    }
    assert.equal(await sim.probe(endpoint.url), 500)
    endpoint.onRequest = null
    const r = endpoint.received[0]!
    await assert.rejects(channel.parseNotification({ headers: r.headers, rawBody: r.body, merchantId: 'mch_test' }), (e: unknown) => e instanceof NotificationRejected && e.reason === 'signature_probe')
  })

  it('closes, lapses and declines', async () => {
    const o = order('ord_a3')
    const a = await channel.createPayment({ paymentId: 'pay_wx_0000000003', order: o, notifyUrl: endpoint.url, openedAt: Date.now() })
    await channel.closePayment({ paymentId: 'pay_wx_0000000003', order: o })
    await channel.closePayment({ paymentId: 'pay_wx_0000000003', order: o })
    assert.deepEqual(await channel.queryPayment({ paymentId: 'pay_wx_0000000003', order: o }), { status: 'closed' })
    assert.throws(() => sim.pay(a.qrContent!), /CLOSED/)
    const b = await channel.createPayment({ paymentId: 'pay_wx_0000000004', order: o, notifyUrl: endpoint.url, openedAt: Date.now() })
    sim.decline(b.qrContent!)
    assert.equal((await channel.queryPayment({ paymentId: 'pay_wx_0000000004', order: o })).status, 'failed')
    assert.deepEqual(await channel.queryPayment({ paymentId: 'pay_wx_never_made', order: o }), { status: 'closed' })
  })

  it('closing an order paid just before (ORDERPAID) is no failure: the query that follows a close finds the payment', async () => {
    const o = order('ord_a12')
    const { qrContent } = await channel.createPayment({ paymentId: 'pay_wx_0000000012', order: o, notifyUrl: endpoint.url, openedAt: Date.now() })
    sim.pay(qrContent!, { notify: false })
    await channel.closePayment({ paymentId: 'pay_wx_0000000012', order: o })
    assert.equal((await channel.queryPayment({ paymentId: 'pay_wx_0000000012', order: o })).status, 'succeeded')
  })

  it('the customer page: scan shows the order, the Pay button pays it (form post), Decline makes it PAYERROR', async () => {
    const a = await channel.createPayment({ paymentId: 'pay_wx_0000000005', order: order('ord_a5'), notifyUrl: endpoint.url, openedAt: Date.now() })
    const page = await (await fetch(`${sim.url}/sim/scan?code_url=${encodeURIComponent(a.qrContent!)}`)).text()
    assert.match(page, /¥12\.34/)
    assert.match(page, /NOTPAY/)
    const paid = await fetch(`${sim.url}/sim/pay`, { method: 'POST', body: new URLSearchParams({ code_url: a.qrContent! }), redirect: 'manual' })
    assert.equal(paid.status, 303)
    assert.equal(sim.orderByCodeUrl(a.qrContent!)!.state, 'SUCCESS')
    const again = await fetch(`${sim.url}/sim/pay`, { method: 'POST', body: new URLSearchParams({ code_url: a.qrContent! }), redirect: 'manual' })
    assert.equal(again.status, 409)
    const b = await channel.createPayment({ paymentId: 'pay_wx_0000000006', order: order('ord_a6'), notifyUrl: endpoint.url, openedAt: Date.now() })
    await fetch(`${sim.url}/sim/decline`, { method: 'POST', body: new URLSearchParams({ code_url: b.qrContent! }), redirect: 'manual' })
    assert.equal(sim.orderByCodeUrl(b.qrContent!)!.state, 'PAYERROR')
    assert.match(await (await fetch(`${sim.url}/sim`)).text(), /pay_wx_0000000006/)
  })

  it('the customer page rehearses what goes wrong: a payment racing the close, and refunds refused for a short balance', async () => {
    const o = order('ord_a7')
    const a = await channel.createPayment({ paymentId: 'pay_wx_0000000007', order: o, notifyUrl: endpoint.url, openedAt: Date.now() })
    await channel.closePayment({ paymentId: 'pay_wx_0000000007', order: o })
    const closed = await (await fetch(`${sim.url}/sim/scan?code_url=${encodeURIComponent(a.qrContent!)}`)).text()
    assert.match(closed, /Pay anyway/)
    const form = (path: string, fields: Record<string, string>) => fetch(`${sim.url}${path}`, { method: 'POST', body: new URLSearchParams(fields), redirect: 'manual' })
    assert.equal((await form('/sim/pay', { code_url: a.qrContent!, force: 'true' })).status, 303)
    assert.equal(sim.orderByCodeUrl(a.qrContent!)!.state, 'SUCCESS')

    assert.match(await (await fetch(`${sim.url}/sim`)).text(), /Make the balance short/)
    assert.equal((await form('/sim/balance', { short: 'true' })).status, 303)
    assert.match(await (await fetch(`${sim.url}/sim`)).text(), /balance short: refunds refused/)
    const refund = { refundId: 'rfd_wx_a7', order: o, payment: { id: 'pay_wx_0000000007', channelTradeNo: null, amount: 1234 }, amount: 1234, currency: 'CNY', reason: null }
    await assert.rejects(channel.refund(refund), (err: ChannelError) => /NOT_ENOUGH: 基本账户余额不足/.test(err.message) && !err.outcomeUnknown)
    await form('/sim/balance', { short: 'false' })
    assert.equal((await channel.refund(refund)).status, 'pending', 'PROCESSING once the balance is topped up')

    // Given back by hand in the merchant platform instead: in part, then the rest; more than is left is refused.
    const o8 = order('ord_a8')
    const b = await channel.createPayment({ paymentId: 'pay_wx_0000000008', order: o8, notifyUrl: endpoint.url, openedAt: Date.now() })
    assert.equal((await form('/sim/pay', { code_url: b.qrContent! })).status, 303)
    const scanPage = async () => (await fetch(`${sim.url}/sim/scan?code_url=${encodeURIComponent(b.qrContent!)}`)).text()
    assert.match(await scanPage(), /value="12\.34"[^]*Refund in the merchant platform/)
    assert.equal((await form('/sim/console-refund', { code_url: b.qrContent!, yuan: '2.34' })).status, 303)
    for (const yuan of ['10.01', 'abc', '0']) assert.equal((await form('/sim/console-refund', { code_url: b.qrContent!, yuan })).status, 409, yuan)
    assert.match(await scanPage(), /value="10\.00"/)
    assert.equal((await form('/sim/console-refund', { code_url: b.qrContent!, yuan: '10.00' })).status, 303)
    const simOrder = sim.orderByCodeUrl(b.qrContent!)!
    assert.deepEqual([simOrder.state, simOrder.refunds.map((r) => r.amount)], ['REFUND', [234, 1000]])
    const state = await channel.queryPayment({ paymentId: 'pay_wx_0000000008', order: o8 })
    assert.ok(state.status === 'succeeded' && state.refunded, 'WeChat Pay reads it REFUND')
  })

  it('refuses bad signatures, skewed clocks and wrong serials with SIGN_ERROR', async () => {
    const path = '/v3/pay/transactions/out-trade-no/pay_wx_0000000001?mchid=' + creds.mchid
    const call = async (auth: string) => {
      const res = await fetch(sim.url + path, { headers: { authorization: auth, accept: 'application/json' } })
      return { status: res.status, body: await res.json() }
    }
    const base = { mchid: creds.mchid, serialNo: creds.serialNo, privateKey: creds.privateKey, method: 'GET', canonicalUrl: path, body: '' }
    assert.equal((await call(signRequest(base))).status, 200)
    const other = createPrivateKey(readFileSync(new URL('./fixtures/wxjava_merchant_private_key.pem', import.meta.url)))
    const bad = await call(signRequest({ ...base, privateKey: other }))
    assert.deepEqual([bad.status, bad.body.code], [401, 'SIGN_ERROR'])
    const old = await call(signRequest({ ...base, timestamp: Math.floor(Date.now() / 1000) - 301 }))
    assert.deepEqual([old.status, old.body.code], [401, 'SIGN_ERROR'])
    assert.match(old.body.message, /5分钟/)
    const serial = await call(signRequest({ ...base, serialNo: 'ABCDEF0123' }))
    assert.deepEqual([serial.status, serial.body.code], [401, 'SIGN_ERROR'])
    const lower = await call(signRequest({ ...base, serialNo: creds.serialNo.toLowerCase() }))
    assert.equal(lower.status, 200)
    assert.equal((await call('Bearer nope')).status, 401)
  })

  it('names this server\'s clock drift when WeChat refuses the timestamp, and only then', async () => {
    const ahead = new WechatPayChannel({ credentials: async () => creds, clock: { now: () => Date.now() + 400_000 } })
    await assert.rejects(ahead.queryPayment({ paymentId: 'pay_wx_0000000001', order: order('ord_a1') }), (err: Error) => {
      assert.ok(err instanceof ChannelError)
      assert.match(err.message, /SIGN_ERROR: .*5分钟 \(this server's clock is 40\d s ahead of WeChat Pay's; .*fix the clock\)/)
      return true
    })
    // A wrong key on a right clock: WeChat's SIGN_ERROR as it stands, no word about clocks.
    const other = createPrivateKey(readFileSync(new URL('./fixtures/wxjava_merchant_private_key.pem', import.meta.url)))
    const wrongKey = new WechatPayChannel({ credentials: async () => ({ ...creds, privateKey: other }), clock: { now: () => Date.now() } })
    await assert.rejects(wrongKey.queryPayment({ paymentId: 'pay_wx_0000000001', order: order('ord_a1') }), (err: Error) => /SIGN_ERROR/.test(err.message) && !/clock/.test(err.message))
  })

  it('serves the day\'s tradebill, which parses back to the paid orders and their refunds', async () => {
    const today = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10)
    const bill = await channel.downloadTradeBill('mch_test', today)
    const rows = bill.rows.filter((r) => r.outTradeNo === 'pay_wx_0000000001' || r.outTradeNo === 'pay_wx_0000000002')
    const paid = rows.filter((r) => r.tradeState === 'SUCCESS')
    assert.equal(paid.length, 2)
    assert.ok(paid.every((r) => r.amount === 1234 && r.orderAmount === 1234 && /^4200/.test(r.transactionId)))
    // A refund's line settles nothing of the order (0.00) and names the refund, asked for in 申请退款金额.
    const refunds = rows.filter((r) => r.tradeState === 'REFUND')
    assert.ok(refunds.length > 0)
    assert.ok(refunds.every((r) => r.amount === 0 && r.orderAmount === 0 && r.requestedRefundAmount > 0 && r.outRefundNo !== '' && ['SUCCESS', 'PROCESSING', 'ABNORMAL'].includes(r.refundState)))
    assert.equal(bill.summary.count, bill.rows.length)
    assert.deepEqual(parseTradeBill(sim.tradeBillText(creds.mchid, today)).rows.length, bill.rows.length)
  })

  it('believes a bill only by its SHA-1 from the signed answer: one that does not match, or comes without it, is refused', async () => {
    const today = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10)
    try {
      sim.billFault = 'tampered'
      await assert.rejects(channel.downloadTradeBill('mch_test', today), /does not match its SHA-1/)
      sim.billFault = 'unhashed'
      await assert.rejects(channel.downloadTradeBill('mch_test', today), /without a SHA-1/)
    } finally {
      sim.billFault = null
    }
  })

  it('a day without a payment has no bill (NO_STATEMENT_EXIST), which reads as an empty bill', async () => {
    assert.deepEqual((await channel.downloadTradeBill('mch_test', '2020-01-01')).rows, [])
  })
})

describe('WeChat Pay simulator with independent clients', () => {
  const merchantKey = readFileSync(new URL('./fixtures/wxjava_merchant_private_key.pem', import.meta.url), 'utf8')
  const merchantCert = readFileSync(new URL('./fixtures/wxjava_merchant_certificate.pem', import.meta.url), 'utf8')
  const serial = new X509Certificate(merchantCert).serialNumber
  const apiV3Key = 'a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb'
  const peer = { mchid: '1230000109', appid: 'wxd678efh567hg6787', certificatePem: merchantCert, apiV3Key }
  const simPk = new WechatPaySimulator({ merchants: [peer] })
  const simCert = new WechatPaySimulator({ merchants: [peer], serialMode: 'certificate' })
  before(async () => {
    await simPk.start()
    await simCert.start()
  })
  after(async () => {
    await simPk.stop()
    await simCert.stop()
  })

  it('wechatpay-axios-plugin: prepay, query, close (204), refund, all verified by the client', async () => {
    const { Wechatpay } = require('wechatpay-axios-plugin')
    const wxpay = new Wechatpay({ mchid: peer.mchid, serial, privateKey: merchantKey, certs: { [simPk.identity.publicKeyId]: simPk.identity.publicKeyPem }, baseURL: simPk.url + '/' })
    const prepay = await wxpay.v3.pay.transactions.native.post({ appid: peer.appid, mchid: peer.mchid, description: 'Image形象店-深圳腾大-QQ公仔', out_trade_no: 'AXIOS000001', notify_url: 'https://example.com/notify', amount: { total: 100, currency: 'CNY' } })
    assert.equal(prepay.status, 200)
    assert.match(prepay.data.code_url, /^weixin:\/\//)
    const q = await wxpay.v3.pay.transactions.outTradeNo.$out_trade_no$.get({ params: { mchid: peer.mchid }, out_trade_no: 'AXIOS000001' })
    assert.equal(q.data.trade_state, 'NOTPAY')
    simPk.pay(prepay.data.code_url, { notify: false })
    const paid = await wxpay.v3.pay.transactions.id.$transaction_id$.get({ params: { mchid: peer.mchid }, transaction_id: simPk.orderByCodeUrl(prepay.data.code_url)!.transactionId })
    assert.equal(paid.data.trade_state, 'SUCCESS')
    const refund = await wxpay.v3.refund.domestic.refunds.post({ out_trade_no: 'AXIOS000001', out_refund_no: 'AXIOSR1', amount: { refund: 100, total: 100, currency: 'CNY' } })
    assert.equal(refund.data.status, 'PROCESSING')
    const r2 = await wxpay.v3.refund.domestic.refunds.$out_refund_no$.get({ out_refund_no: 'AXIOSR1' })
    assert.equal(r2.data.out_refund_no, 'AXIOSR1')
    await wxpay.v3.pay.transactions.native.post({ appid: peer.appid, mchid: peer.mchid, description: 'x', out_trade_no: 'AXIOS000002', notify_url: 'https://example.com/notify', amount: { total: 1 } })
    const closed = await wxpay.v3.pay.transactions.outTradeNo.$out_trade_no$.close.post({ mchid: peer.mchid }, { out_trade_no: 'AXIOS000002' })
    assert.equal(closed.status, 204)
    assert.equal(closed.data, '')
    // A client that trusts another key refuses the simulator's answers: the responses really are signed.
    const wrong = new Wechatpay({ mchid: peer.mchid, serial, privateKey: merchantKey, certs: { [simPk.identity.publicKeyId]: readFileSync(new URL('./fixtures/wxjava_wechat_pay_public_key.pem', import.meta.url)) }, baseURL: simPk.url + '/' })
    await assert.rejects(wrong.v3.pay.transactions.outTradeNo.$out_trade_no$.get({ params: { mchid: peer.mchid }, out_trade_no: 'AXIOS000001' }), /EV3_RES_HEADER_SIGNATURE_DIGEST|signature/i)
  })

  it('wechatpay-node-v3: prepay through an injected transport, and verifySign with certificates it downloads', async () => {
    const WxPay = require('wechatpay-node-v3')
    const pay = new WxPay({ appid: peer.appid, mchid: peer.mchid, publicKey: Buffer.from(merchantCert), privateKey: Buffer.from(merchantKey), key: apiV3Key })
    let last: { headers: Headers; text: string } | null = null
    const send = async (method: string, url: string, headers: Record<string, string>, body?: unknown) => {
      const res = await fetch(url.replace('https://api.mch.weixin.qq.com', simCert.url), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
      const text = await res.text()
      last = { headers: res.headers, text }
      return { status: res.status, data: text ? JSON.parse(text) : '' }
    }
    pay.createHttp({ post: (url: string, params: unknown, headers: Record<string, string>) => send('POST', url, headers, params), get: (url: string, headers: Record<string, string>) => send('GET', url, headers) })
    const r = await pay.transactions_native({ description: '测试', out_trade_no: 'NODEV3000001', notify_url: 'https://example.com/notify', amount: { total: 1 } })
    assert.equal(r.status, 200, JSON.stringify(r))
    assert.match(r.data.code_url, /^weixin:\/\//)
    const h = last!.headers
    const verified = await pay.verifySign({ timestamp: h.get('wechatpay-timestamp'), nonce: h.get('wechatpay-nonce'), body: last!.text, serial: h.get('wechatpay-serial'), signature: h.get('wechatpay-signature') })
    assert.equal(verified, true)
    const q = await pay.query({ out_trade_no: 'NODEV3000001' })
    assert.equal(q.data.trade_state, 'NOTPAY')
    const c = await pay.close('NODEV3000001')
    assert.equal(c.status, 204)
  })
})
