// The Alipay simulator against ScanPay's adapter and against the official alipay-sdk (validateSign: true),
// which must work against it unchanged; and its refusals, retries and the exact `success` rule.
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { AlipaySdk } from 'alipay-sdk'
import type { Order } from '../../core/order.ts'
import { ChannelError } from '../../core/payment-channel.ts'
import { channelFetch } from '../channel-http.ts'
import { checkCredentialsOnline } from '../check-credentials.ts'
import { NotificationRejected } from '../notification-rejected.ts'
import { ALIPAY_REFUND_SETTLE_MS, ALIPAY_REFUND_STUCK_MS, AlipayChannel } from './alipay-channel.ts'
import { alipayTime } from '../shanghai-time.ts'
import { notifySignContent, requestSignContent, rsa2Sign } from './signing.ts'
import { parseAlipayBill } from './bill.ts'
import { parseAlipayCredentials, type AlipayCredentials } from './credentials.ts'
import { AlipaySimulator } from './simulator.ts'

class Endpoint {
  received: string[] = []
  replies: string[] = []
  fallback = 'success'
  #server: Server | null = null
  url = ''
  async start() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        this.received.push(Buffer.concat(chunks).toString('utf8'))
        res.writeHead(200, { 'content-type': 'text/plain' }).end(this.replies.shift() ?? this.fallback)
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

function order(id: string, amount = 1234): Order {
  const now = Date.now()
  return {
    id, merchantId: 'mch_test', mode: 'live', status: 'pending', outTradeNo: id, amount, amountRefunded: 0, currency: 'CNY',
    subject: '拿铁 Latte', description: null, metadata: {}, channels: ['alipay'], notifyUrl: null, returnUrl: null, payToken: 't',
    channel: null, channelTradeNo: null, requestHash: 'h', createdAt: now, expiresAt: now + 15 * 60_000, paidAt: null, closedAt: null, updatedAt: now,
  }
}

async function until(fn: () => boolean, ms = 5000) {
  const deadline = Date.now() + ms
  while (!fn()) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('Alipay simulator with the ScanPay adapter', () => {
  const keysDir = mkdtempSync(join(tmpdir(), 'alisim-'))
  const sim = new AlipaySimulator({ keysDir, retryScale: 0.0001 })
  const endpoint = new Endpoint()
  let creds: AlipayCredentials
  let channel: AlipayChannel
  /** The adapter as it would read the simulator's answers with their signatures cut off on the way. */
  const unsignedChannel = () =>
    new AlipayChannel({
      credentials: async () => creds,
      clock: { now: () => Date.now() },
      fetch: async (req) => {
        const res = await channelFetch(req)
        return { ...res, text: res.text.replace(/,"sign":"[^"]*"/, '') }
      },
    })
  before(async () => {
    await sim.start()
    await endpoint.start()
    const parsed = parseAlipayCredentials(JSON.parse(readFileSync(join(keysDir, 'alipay-credentials.json'), 'utf8')))
    assert.ok(parsed.ok, JSON.stringify(parsed))
    creds = parsed.value
    channel = new AlipayChannel({ credentials: async () => creds, clock: { now: () => Date.now() } })
  })
  after(async () => {
    await sim.stop()
    await endpoint.stop()
  })

  it('precreates, models "no trade before the scan", is paid, and notifies; the adapter verifies the notification', async () => {
    const o = order('ord_b1')
    const { qrContent } = await channel.createPayment({ paymentId: 'pay_ali_0000000001', order: o, notifyUrl: endpoint.url, openedAt: Date.now() })
    assert.match(qrContent!, /^https:\/\/qr\.alipay\.com\//)
    assert.deepEqual(await channel.queryPayment({ paymentId: 'pay_ali_0000000001', order: o }), { status: 'pending' })
    assert.equal(sim.trades.get(`${creds.appId}:pay_ali_0000000001`)!.status, 'PRECREATED')
    sim.scan(qrContent!)
    assert.deepEqual(await channel.queryPayment({ paymentId: 'pay_ali_0000000001', order: o }), { status: 'pending' })
    sim.pay(qrContent!)
    await until(() => endpoint.received.length >= 1)
    const n = await channel.parseNotification({ headers: {}, rawBody: endpoint.received[0]!, merchantId: 'mch_test' })
    assert.equal(n.paymentId, 'pay_ali_0000000001')
    assert.ok(n.state.status === 'succeeded' && n.state.amount === 1234)
    const q = await channel.queryPayment({ paymentId: 'pay_ali_0000000001', order: o })
    assert.equal(q.status, 'succeeded')
    const paid = { ...o, status: 'paid' as const, channel: 'alipay' as const, channelTradeNo: q.status === 'succeeded' ? q.channelTradeNo : null }
    assert.deepEqual(await channel.refund({ refundId: 'rfd_ali_1', order: paid, amount: 234, currency: 'CNY', reason: '测试' }), { status: 'succeeded', channelRefundNo: 'rfd_ali_1' })
    // Sent again, the same out_request_no refunds nothing more (fund_change N): the refund query says how it ended.
    assert.deepEqual(await channel.refund({ refundId: 'rfd_ali_1', order: paid, amount: 234, currency: 'CNY', reason: '测试' }), { status: 'pending' })
    assert.equal(sim.trades.get(`${creds.appId}:pay_ali_0000000001`)!.refunds.length, 1, 'the same out_request_no refunds once')
    // Asked for (query_options), the answer says when the refund was made, which dates its line in the day's bill.
    const made = await channel.queryRefund({ refundId: 'rfd_ali_1', order: paid, requestedAt: Date.now() })
    assert.ok(made.status === 'succeeded' && made.datedAt !== undefined && Math.abs(made.datedAt - Date.now()) < 5000, JSON.stringify(made))
    assert.equal((await channel.queryRefund({ refundId: 'rfd_ali_2', order: paid, requestedAt: Date.now() })).status, 'failed')
    // A refund Alipay accepted but has not made yet (no refund_status) is pending for a while after it was sent;
    // then it reads as not received, and is sent again under the same number, which refunds nothing twice; after
    // a day it waits for a person.
    sim.holdRefunds = true
    try {
      assert.deepEqual(await channel.refund({ refundId: 'rfd_ali_4', order: paid, amount: 100, currency: 'CNY', reason: null }), { status: 'pending' })
      const sent = Date.now()
      assert.deepEqual(await channel.queryRefund({ refundId: 'rfd_ali_4', order: paid, requestedAt: sent }), { status: 'pending' })
      assert.deepEqual(await channel.queryRefund({ refundId: 'rfd_ali_4', order: paid, requestedAt: sent - ALIPAY_REFUND_SETTLE_MS }), { status: 'failed', reason: 'Alipay has not made this refund (no refund_status)', notFound: true, recorded: true })
      assert.deepEqual(await channel.refund({ refundId: 'rfd_ali_4', order: paid, amount: 100, currency: 'CNY', reason: null }), { status: 'pending' })
      assert.equal(sim.trades.get(`${creds.appId}:pay_ali_0000000001`)!.refunds.filter((r) => r.outRequestNo === 'rfd_ali_4').length, 1)
      const stuck = await channel.queryRefund({ refundId: 'rfd_ali_4', order: paid, requestedAt: sent - ALIPAY_REFUND_STUCK_MS })
      assert.ok(stuck.status === 'pending' && /merchant console/.test(stuck.attention ?? ''), JSON.stringify(stuck))
      await new Promise((r) => setTimeout(r, 1100))
      sim.settleRefunds()
      // Made after it was asked for: the time it was made is the settling's, not the asking's.
      const made = await channel.queryRefund({ refundId: 'rfd_ali_4', order: paid, requestedAt: sent - ALIPAY_REFUND_STUCK_MS })
      assert.ok(made.status === 'succeeded' && made.datedAt !== undefined && made.datedAt > Math.floor(sent / 1000) * 1000, JSON.stringify(made))
      assert.deepEqual(made, { status: 'succeeded', channelRefundNo: 'rfd_ali_4', datedAt: made.datedAt })
    } finally {
      sim.holdRefunds = false
    }
    assert.deepEqual(await channel.refund({ refundId: 'rfd_ali_3', order: paid, amount: 1001, currency: 'CNY', reason: null }), { status: 'failed', reason: 'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL: 退款金额超限' })
  })

  it('retries until it reads exactly `success`, with the same notify_id; the adapter refuses tampered copies', async () => {
    endpoint.received = []
    endpoint.replies = ['SUCCESS', 'success\n', 'fail']
    const { qrContent } = await channel.createPayment({ paymentId: 'pay_ali_0000000002', order: order('ord_b2'), notifyUrl: endpoint.url, openedAt: Date.now() })
    sim.pay(qrContent!)
    await until(() => endpoint.received.length >= 4)
    await new Promise((r) => setTimeout(r, 200))
    assert.equal(endpoint.received.length, 4, 'stops after the exact success')
    assert.equal(new Set(endpoint.received.map((b) => new URLSearchParams(b).get('notify_id'))).size, 1)
    const body = endpoint.received[0]!
    const tampered = body.replace('total_amount=12.34', 'total_amount=0.01')
    assert.notEqual(tampered, body)
    await assert.rejects(channel.parseNotification({ headers: {}, rawBody: tampered, merchantId: 'mch_test' }), (e: unknown) => e instanceof NotificationRejected && e.reason === 'signature_invalid')
    const noSign = new URLSearchParams(body)
    noSign.delete('sign')
    await assert.rejects(channel.parseNotification({ headers: {}, rawBody: noSign.toString(), merchantId: 'mch_test' }), NotificationRejected)
    assert.equal(channel.acknowledge('ok').body, 'success')
  })

  it('a genuinely signed notification of another notify_type is not read as a payment', async () => {
    const { sign: _s, sign_type: _t, ...params } = Object.fromEntries(new URLSearchParams(endpoint.received[0]!))
    const other = { ...params, notify_type: 'trade_royalty_relation_sync' }
    const body = new URLSearchParams({ ...other, sign: rsa2Sign(notifySignContent(other), sim.identity.alipayKey), sign_type: 'RSA2' }).toString()
    await assert.rejects(channel.parseNotification({ headers: {}, rawBody: body, merchantId: 'mch_test' }), (e: unknown) => e instanceof NotificationRejected && e.reason === 'body_invalid')
  })

  it("an unsigned refusal is no refusal: a refund, close or query it answers is asked about again, not given up", async () => {
    const unsigned = unsignedChannel()
    const o = order('ord_b9')
    const paid = { ...o, status: 'paid' as const, channel: 'alipay' as const, channelTradeNo: sim.trades.get(`${creds.appId}:pay_ali_0000000001`)!.tradeNo }
    // Signed, this refund is refused for good (the first test); unsigned, it might be anyone's word.
    await assert.rejects(unsigned.refund({ refundId: 'rfd_ali_9', order: paid, amount: 100_000, currency: 'CNY', reason: null }), (e: unknown) => e instanceof ChannelError && e.outcomeUnknown && e.retryable)
    await channel.createPayment({ paymentId: 'pay_ali_0000000009', order: o, notifyUrl: endpoint.url, openedAt: Date.now() })
    // Nor is an unsigned "no such trade" news of an unscanned code: it is no answer at all.
    await assert.rejects(unsigned.queryPayment({ paymentId: 'pay_ali_0000000009', order: o }), (e: unknown) => e instanceof ChannelError && e.outcomeUnknown && e.retryable)
    await assert.rejects(unsigned.closePayment({ paymentId: 'pay_ali_0000000009', order: o }), (e: unknown) => e instanceof ChannelError && e.retryable)
    await channel.closePayment({ paymentId: 'pay_ali_0000000009', order: o })
  })

  it('the credentials check fails on an unsigned TRADE_NOT_EXIST: it proves nothing of the Alipay public key', async () => {
    const gateway = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html;charset=utf-8' }).end('{"alipay_trade_query_response":{"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST","sub_msg":"交易不存在"}}')
    })
    await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r))
    try {
      const doc = { ...sim.credentialsDocument(), gateway_url: `http://127.0.0.1:${(gateway.address() as AddressInfo).port}/gateway.do` }
      const check = await checkCredentialsOnline('alipay', doc)
      assert.equal(check.ok, false, JSON.stringify(check))
      assert.ok((await checkCredentialsOnline('alipay', sim.credentialsDocument())).ok)
    } finally {
      gateway.closeAllConnections()
      await new Promise((r) => gateway.close(r))
    }
  })

  it('closes before and after the scan, and lets a declined trade lapse', async () => {
    const o = order('ord_b3')
    const a = await channel.createPayment({ paymentId: 'pay_ali_0000000003', order: o, notifyUrl: endpoint.url, openedAt: Date.now() })
    await channel.closePayment({ paymentId: 'pay_ali_0000000003', order: o })
    assert.throws(() => sim.pay(a.qrContent!), /TRADE_CLOSED/)
    const b = await channel.createPayment({ paymentId: 'pay_ali_0000000004', order: o, notifyUrl: endpoint.url, openedAt: Date.now() })
    sim.decline(b.qrContent!)
    await channel.closePayment({ paymentId: 'pay_ali_0000000004', order: o })
    assert.deepEqual(await channel.queryPayment({ paymentId: 'pay_ali_0000000004', order: o }), { status: 'closed' })
  })

  it('the customer page: the Pay button pays (form post), Decline leaves a scanned trade waiting until it lapses', async () => {
    const a = await channel.createPayment({ paymentId: 'pay_ali_0000000005', order: order('ord_b5'), notifyUrl: endpoint.url, openedAt: Date.now() })
    assert.match(await (await fetch(`${sim.url}/sim/scan?qr_code=${encodeURIComponent(a.qrContent!)}`)).text(), /¥12\.34/)
    const paid = await fetch(`${sim.url}/sim/pay`, { method: 'POST', body: new URLSearchParams({ qr_code: a.qrContent!, notify: 'false' }), redirect: 'manual' })
    assert.equal(paid.status, 303)
    assert.equal(sim.tradeByQr(a.qrContent!)!.status, 'TRADE_SUCCESS')
    const b = await channel.createPayment({ paymentId: 'pay_ali_0000000006', order: order('ord_b6'), notifyUrl: endpoint.url, openedAt: Date.now() })
    await fetch(`${sim.url}/sim/decline`, { method: 'POST', body: new URLSearchParams({ qr_code: b.qrContent! }), redirect: 'manual' })
    assert.equal(sim.tradeByQr(b.qrContent!)!.status, 'WAIT_BUYER_PAY')
  })

  it('refuses a request signed with another key with 40002 isv.invalid-signature, which the adapter reports as a refusal', async () => {
    const other = parseAlipayCredentials({ ...JSON.parse(readFileSync(join(keysDir, 'alipay-credentials.json'), 'utf8')), app_private_key: readFileSync(new URL('./fixtures/alipaysdk_app-private-key.pem', import.meta.url), 'utf8') })
    assert.ok(other.ok)
    const bad = new AlipayChannel({ credentials: async () => other.value, clock: { now: () => Date.now() } })
    await assert.rejects(bad.createPayment({ paymentId: 'pay_ali_bad', order: order('ord_b4'), notifyUrl: endpoint.url, openedAt: Date.now() }), (e: unknown) => e instanceof ChannelError && /isv.invalid-signature/.test(e.message) && !e.outcomeUnknown)
  })

  it('serves the day\'s bill as a zip that parses back to the payments and refunds', async () => {
    const today = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10)
    // A product name with a comma and a quote is one field of the bill, as it was sent.
    const comma = { ...order('ord_comma'), subject: 'Latte, large "hot"' }
    const { qrContent } = await channel.createPayment({ paymentId: 'pay_ali_comma', order: comma, notifyUrl: endpoint.url, openedAt: Date.now() })
    sim.pay(qrContent!, { notify: false })
    const bill = await channel.downloadBill('mch_test', today)
    const mine = bill.rows.filter((r) => r.outTradeNo === 'pay_ali_0000000001')
    // The refund held and then settled (the first test) is on the bill once made.
    assert.deepEqual(mine.map((r) => [r.businessType, r.amount]).sort(), [['交易', 1234], ['退款', -100], ['退款', -234]])
    assert.deepEqual(bill.rows.filter((r) => r.outTradeNo === 'pay_ali_comma').map((r) => [r.subject, r.amount]), [['Latte, large "hot"', 1234]])
    assert.match(bill.file, /业务明细\.csv$/)
    assert.equal(parseAlipayBill(sim.billZip(creds.appId, today)).rows.length, bill.rows.length)
  })

  it("a refund in full in the merchant console closes the trade, as one through the API does: the adapter reads it closed", async () => {
    const o = order('ord_console_full')
    const { qrContent } = await channel.createPayment({ paymentId: 'pay_ali_console01', order: o, notifyUrl: endpoint.url, openedAt: Date.now() })
    const trade = sim.pay(qrContent!, { notify: false })
    sim.consoleRefund(trade, 500)
    assert.equal((await channel.queryPayment({ paymentId: 'pay_ali_console01', order: o })).status, 'succeeded', 'in part: still paid')
    sim.consoleRefund(trade, o.amount - 500)
    assert.equal(trade.status, 'TRADE_CLOSED')
    assert.deepEqual(await channel.queryPayment({ paymentId: 'pay_ali_console01', order: o }), { status: 'closed' })
  })

  it('a day without a payment has no bill: signed, that reads as an empty bill; unsigned, it fails', async () => {
    assert.deepEqual(await channel.downloadBill('mch_test', '2020-01-01'), { file: '', rows: [] })
    const unsigned = unsignedChannel()
    await assert.rejects(unsigned.downloadBill('mch_test', '2020-01-01'), (err: Error) => err instanceof ChannelError && /isp\.bill_not_exist/.test(err.message))
  })
})

describe('Alipay simulator: a scanned, unpaid trade lapses', () => {
  let offset = 0
  const sim = new AlipaySimulator({ now: () => Date.now() + offset })
  const endpoint = new Endpoint()
  before(async () => {
    await sim.start()
    await endpoint.start()
  })
  after(async () => {
    await sim.stop()
    await endpoint.stop()
  })

  it('closes it at its timeout on its own and sends TRADE_CLOSED, which the adapter reads as closed', async () => {
    const p = parseAlipayCredentials(sim.credentialsDocument())
    assert.ok(p.ok)
    const channel = new AlipayChannel({ credentials: async () => p.value, clock: { now: () => Date.now() } })
    const o = { ...order('ord_lapse'), expiresAt: Date.now() + 60_000 }
    const { qrContent } = await channel.createPayment({ paymentId: 'pay_ali_lapse', order: o, notifyUrl: endpoint.url, openedAt: Date.now() })
    sim.decline(qrContent!)
    offset = 61_000
    await until(() => endpoint.received.length >= 1, 5000)
    const n = await channel.parseNotification({ headers: {}, rawBody: endpoint.received[0]!, merchantId: 'mch_test' })
    assert.deepEqual([n.paymentId, n.state], ['pay_ali_lapse', { status: 'closed' }])
  })

  it('counts timeout_express from the scan and qr_code_timeout_express from the code: a late scan lapses with the code', async () => {
    offset = 0
    const p = parseAlipayCredentials(sim.credentialsDocument())
    assert.ok(p.ok)
    const channel = new AlipayChannel({ credentials: async () => p.value, clock: { now: () => Date.now() } })
    const o = { ...order('ord_late_scan'), expiresAt: Date.now() + 5 * 60_000 }
    const { qrContent } = await channel.createPayment({ paymentId: 'pay_ali_late', order: o, notifyUrl: endpoint.url, openedAt: Date.now() })
    offset = 3 * 60_000
    const scanned = sim.scan(qrContent!)
    // timeout_express alone (4 minutes from the scan) would run to minute 7, past the order; the code's own
    // timeout (4 minutes from its creation) closes it at minute 4.
    assert.ok(scanned.expiresAt <= Date.now() + 4 * 60_000 + 1_000, `closes with the code, not 4 minutes after the scan (${scanned.expiresAt - Date.now()} ms)`)
  })

  it('a precreate retried a minute later sends the same biz_content, and the code lapses its timeout after the first', async () => {
    offset = 0
    const p = parseAlipayCredentials(sim.credentialsDocument())
    assert.ok(p.ok)
    const sent: string[] = []
    const channel = new AlipayChannel({
      credentials: async () => p.value,
      clock: { now: () => Date.now() + offset },
      fetch: (req) => {
        sent.push(new URLSearchParams(req.body).get('biz_content')!)
        return channelFetch(req)
      },
    })
    // A 10-minute order whose code is opened at its minute 3: 6 minutes (the time left less 30 s) from the code.
    const openedAt = Date.now()
    const o = { ...order('ord_retry'), createdAt: openedAt - 3 * 60_000, expiresAt: openedAt + 7 * 60_000 }
    const first = await channel.createPayment({ paymentId: 'pay_ali_retry', order: o, notifyUrl: endpoint.url, openedAt })
    offset = 75_000
    const again = await channel.createPayment({ paymentId: 'pay_ali_retry', order: o, notifyUrl: endpoint.url, openedAt })
    assert.equal(again.qrContent, first.qrContent)
    assert.equal(sent.length, 2)
    assert.equal(sent[1], sent[0], 'the time left is counted from the attempt, not read off the clock')
    assert.equal(JSON.parse(sent[0]!).qr_code_timeout_express, '6m')
    const trade = sim.tradeByQr(first.qrContent!)!
    assert.equal(trade.expiresAt, trade.createdAt + 6 * 60_000)
    // Payable until then (a scan does not move it: timeout_express from the scan would end later), closed after.
    offset = trade.expiresAt - Date.now() - 5_000
    assert.equal(sim.scan(first.qrContent!).status, 'WAIT_BUYER_PAY')
    assert.equal(trade.expiresAt, trade.createdAt + 6 * 60_000)
    offset = trade.expiresAt - Date.now() + 1_000
    assert.throws(() => sim.pay(first.qrContent!), /TRADE_CLOSED/)
  })
})

describe('Alipay simulator with the official alipay-sdk', () => {
  const sim = new AlipaySimulator()
  const endpoint = new Endpoint()
  before(async () => {
    await sim.start()
    await endpoint.start()
  })
  after(async () => {
    await sim.stop()
    await endpoint.stop()
  })
  const sdk = () =>
    new AlipaySdk({ appId: sim.identity.appId, privateKey: sim.identity.appPrivateKeyPem, keyType: 'PKCS8', alipayPublicKey: sim.identity.alipayPublicKeyPem, gateway: sim.gatewayUrl, camelcase: false })

  it('exec precreate / query / refund / close with validateSign: true, and checkNotifySignV2 on its notification', async () => {
    const client = sdk()
    const created: any = await client.exec('alipay.trade.precreate', { notify_url: endpoint.url, bizContent: { out_trade_no: 'SDK0001', total_amount: '0.01', subject: '测试', timeout_express: '15m' } }, { validateSign: true })
    assert.equal(created.code, '10000')
    assert.match(created.qr_code, /^https:\/\/qr\.alipay\.com\//)
    const before: any = await client.exec('alipay.trade.query', { bizContent: { out_trade_no: 'SDK0001' } }, { validateSign: true })
    assert.equal(before.sub_code, 'ACQ.TRADE_NOT_EXIST')
    sim.pay(created.qr_code)
    const q: any = await client.exec('alipay.trade.query', { bizContent: { out_trade_no: 'SDK0001' } }, { validateSign: true })
    assert.equal(q.trade_status, 'TRADE_SUCCESS')
    assert.equal(q.total_amount, '0.01')
    const r: any = await client.exec('alipay.trade.refund', { bizContent: { out_trade_no: 'SDK0001', refund_amount: '0.01', out_request_no: 'R1' } }, { validateSign: true })
    assert.equal(r.fund_change, 'Y')
    await until(() => endpoint.received.length >= 1)
    const postData = Object.fromEntries(new URLSearchParams(endpoint.received[0]!))
    assert.equal(client.checkNotifySignV2(postData), true)
    assert.equal(client.checkNotifySignV2({ ...postData, total_amount: '100.00' }), false)
    const c: any = await client.exec('alipay.trade.precreate', { bizContent: { out_trade_no: 'SDK0002', total_amount: '1.00', subject: 'x' } }, { validateSign: true })
    const closed: any = await client.exec('alipay.trade.close', { bizContent: { out_trade_no: 'SDK0002' } }, { validateSign: true })
    assert.equal(closed.sub_code, 'ACQ.TRADE_NOT_EXIST')
    assert.throws(() => sim.pay(c.qr_code), /TRADE_CLOSED/)
  })

  it('close: trade_no wins over out_trade_no, and finds only the calling app\'s trades', async () => {
    const client = sdk()
    const precreate = async (no: string): Promise<any> => client.exec('alipay.trade.precreate', { bizContent: { out_trade_no: no, total_amount: '1.00', subject: 'x' } }, { validateSign: true })
    const a = sim.scan((await precreate('SDKC_A')).qr_code)
    const b = sim.scan((await precreate('SDKC_B')).qr_code)
    const closed: any = await client.exec('alipay.trade.close', { bizContent: { trade_no: a.tradeNo, out_trade_no: 'SDKC_B' } }, { validateSign: true })
    assert.deepEqual([closed.code, closed.out_trade_no, a.status, b.status], ['10000', 'SDKC_A', 'TRADE_CLOSED', 'WAIT_BUYER_PAY'])
    // Another app naming this app's trade_no finds no trade of its own.
    const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')
    sim.addApp({ appId: '2021000000000002', appPublicKeyPem: fixture('alipaysdk_app-public-key.pem') })
    const other = new AlipaySdk({ appId: '2021000000000002', privateKey: fixture('alipaysdk_app-private-key.pem'), alipayPublicKey: sim.identity.alipayPublicKeyPem, gateway: sim.gatewayUrl, camelcase: false })
    const foreign: any = await other.exec('alipay.trade.close', { bizContent: { trade_no: b.tradeNo } }, { validateSign: true })
    assert.deepEqual([foreign.sub_code, b.status], ['ACQ.TRADE_NOT_EXIST', 'WAIT_BUYER_PAY'])
  })

  it('requires charset, timestamp (yyyy-MM-dd HH:mm:ss) and version, with Alipay\'s codes', async () => {
    const query = async (change: Record<string, string | null>): Promise<Record<string, string>> => {
      const all: Record<string, string> = { app_id: sim.identity.appId, method: 'alipay.trade.query', sign_type: 'RSA2', charset: 'utf-8', timestamp: alipayTime(Date.now()), version: '1.0', biz_content: '{"out_trade_no":"SDK_none"}' }
      for (const [k, v] of Object.entries(change)) if (v === null) delete all[k]
      else all[k] = v
      const body = new URLSearchParams({ ...all, sign: rsa2Sign(requestSignContent(all), sim.identity.appPrivateKeyPem) })
      const res = await fetch(sim.gatewayUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded;charset=utf-8' }, body })
      const r = JSON.parse(await res.text()).alipay_trade_query_response
      return { code: r.code, sub_code: r.sub_code }
    }
    assert.deepEqual(await query({}), { code: '40004', sub_code: 'ACQ.TRADE_NOT_EXIST' })
    assert.deepEqual(await query({ timestamp: null }), { code: '40001', sub_code: 'isv.missing-timestamp' })
    assert.deepEqual(await query({ version: null }), { code: '40001', sub_code: 'isv.missing-version' })
    assert.deepEqual(await query({ charset: null }), { code: '40002', sub_code: 'isv.invalid-charset' })
    for (const bad of ['2026/11/26 10:00:00', '2026-11-26T10:00:00', '1764122400']) assert.deepEqual(await query({ timestamp: bad }), { code: '40002', sub_code: 'isv.invalid-timestamp' }, bad)
  })

  it('refuses a partial refund without out_request_no (signed ACQ.INVALID_PARAMETER); a full one needs none', async () => {
    const client = sdk()
    const created: any = await client.exec('alipay.trade.precreate', { bizContent: { out_trade_no: 'SDKR_1', total_amount: '1.00', subject: 'x' } }, { validateSign: true })
    const trade = sim.pay(created.qr_code, { notify: false })
    const partial: any = await client.exec('alipay.trade.refund', { bizContent: { out_trade_no: 'SDKR_1', refund_amount: '0.50' } }, { validateSign: true })
    assert.deepEqual([partial.code, partial.sub_code, trade.refunds.length], ['40004', 'ACQ.INVALID_PARAMETER', 0])
    const full: any = await client.exec('alipay.trade.refund', { bizContent: { out_trade_no: 'SDKR_1', refund_amount: '1.00' } }, { validateSign: true })
    assert.deepEqual([full.code, full.fund_change, trade.refunds.length], ['10000', 'Y', 1])
  })

  it('takes the timeouts Alipay documents (1m to 15d, or 1c: the end of the Beijing day) and refuses others', async () => {
    const client = sdk()
    const precreate = (no: string, timeouts: Record<string, string>): Promise<any> =>
      client.exec('alipay.trade.precreate', { bizContent: { out_trade_no: no, total_amount: '1.00', subject: 'x', ...timeouts } }, { validateSign: true })
    for (const bad of ['1.5h', '0m', '16d', '90']) {
      const r = await precreate(`SDKT${bad.replace(/\W/g, '')}`, { timeout_express: bad })
      assert.deepEqual([r.code, r.sub_code], ['40004', 'ACQ.INVALID_PARAMETER'], bad)
    }
    assert.equal((await precreate('SDKT_qr', { qr_code_timeout_express: '1.5h' })).sub_code, 'ACQ.INVALID_PARAMETER')
    const today = await precreate('SDKT_1c', { qr_code_timeout_express: '1c', timeout_express: '15d' })
    const midnight = Date.parse(`${new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10)}T00:00:00+08:00`) + 86_400_000
    assert.equal(sim.tradeByQr(today.qr_code)!.expiresAt, midnight)
  })

  it('a client holding the wrong Alipay public key fails validateSign; a wrong app key gets isv.invalid-signature', async () => {
    const wrongAlipayKey = new AlipaySdk({ appId: sim.identity.appId, privateKey: sim.identity.appPrivateKeyPem, keyType: 'PKCS8', alipayPublicKey: readFileSync(new URL('./fixtures/alipaysdk_alipay-public-key.pem', import.meta.url), 'utf8'), gateway: sim.gatewayUrl })
    await assert.rejects(wrongAlipayKey.exec('alipay.trade.precreate', { bizContent: { out_trade_no: 'SDK0003', total_amount: '1.00', subject: 'x' } }, { validateSign: true }), /验签失败/)
    const wrongAppKey = new AlipaySdk({ appId: sim.identity.appId, privateKey: readFileSync(new URL('./fixtures/alipaysdk_app-private-key.pem', import.meta.url), 'utf8'), alipayPublicKey: sim.identity.alipayPublicKeyPem, gateway: sim.gatewayUrl })
    const refused: any = await wrongAppKey.exec('alipay.trade.precreate', { bizContent: { out_trade_no: 'SDK0004', total_amount: '1.00', subject: 'x' } }, { validateSign: true })
    assert.equal(refused.code, '40002')
    assert.equal(refused.subCode, 'isv.invalid-signature')
  })
})
