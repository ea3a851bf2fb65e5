// End to end through the WeChat Pay simulator, on SQLite and PostgreSQL: a live order paid by a simulated
// scan, and every notification that must change nothing (forged, replayed, wrong amount, probe); a lost
// notification found by the reconciler; a success after close refunded with payment.unexpected; and in
// certificate mode, WeChat rotating its platform certificate.
import assert from 'node:assert/strict'
import { randomUUID, type KeyObject } from 'node:crypto'
import { after, before, it } from 'node:test'
import { Webhook } from 'standardwebhooks'
import { openChannelPayment } from '../src/channels/open-channel-payment.ts'
import { unexpectedCommand, type UnexpectedOptions } from '../src/cli/commands/unexpected.ts'
import { pendingRefundsCommand } from '../src/cli/commands/refunds.ts'
import type { NewMerchantCredentials } from '../src/merchants/create-merchant.ts'
import type { WechatPayChannel } from '../src/channels/wechat-pay/wechat-pay-channel.ts'
import { encryptResource, newNonce, signedResponseHeaders } from '../src/channels/wechat-pay/signing.ts'
import { WechatPaySimulator } from '../src/channels/wechat-pay/simulator.ts'
import { selfSignedCertificate } from '../src/channels/self-signed-certificate.ts'
import { rfc3339Shanghai, shanghaiDate } from '../src/channels/shanghai-time.ts'
import { assertDailyBillChecks, assertRefundLines, billRefundLine } from './helpers/daily-bills.ts'
import { withChannelSimulator } from './helpers/channel-simulator.ts'
import { describeEachDatabase } from './helpers/each-database.ts'
import { api } from './helpers/server.ts'
import { assertUnchanged, snapshot } from './helpers/snapshot.ts'
import { eventually, WebhookReceiver } from './helpers/webhook-receiver.ts'

describeEachDatabase('WeChat Pay live payments through the simulator', (t) => {
  const sim = new WechatPaySimulator({ retryScale: 0.002, refundDelayMs: 300 })
  const receiver = new WebhookReceiver()
  const url = () => t.server.url
  const live = () => t.server.merchant.live.secret
  const ctx = () => t.server.server.ctx
  const notifyUrl = () => `${url()}/channels/wechatpay/notify/${t.server.merchant.merchant_id}`
  const hooksFor = (orderId: string, type: string) =>
    receiver.received.filter((w) => {
      const b = JSON.parse(w.body)
      return b.type === type && (b.data.id === orderId)
    })

  withChannelSimulator(t, 'wechatpay', sim, receiver)

  async function liveOrder(outTradeNo: string, extra: Record<string, unknown> = {}) {
    const res = await api(url(), live(), 'POST', '/v1/orders', { out_trade_no: outTradeNo, amount: 1234, subject: '拿铁 Latte', notify_url: receiver.url, channels: ['wechatpay'], ...extra })
    assert.equal(res.status, 201, JSON.stringify(res.body))
    const order = await ctx().storage.orders.byId(t.server.merchant.merchant_id, 'live', res.body.id)
    return order!
  }

  const post = (headers: Record<string, string>, body: string) =>
    fetch(notifyUrl(), { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body })

  /** A notification exactly as WeChat would send it (the simulator's own key and the merchant's APIv3 key). */
  function notification(paymentId: string, total: number, transactionId: string, over: Record<string, unknown> = {}) {
    const plain = JSON.stringify({ mchid: sim.identity.merchant.mchid, appid: sim.identity.merchant.appid, out_trade_no: paymentId, transaction_id: transactionId, trade_type: 'NATIVE', trade_state: 'SUCCESS', trade_state_desc: '支付成功', success_time: rfc3339Shanghai(Date.now()), amount: { total, payer_total: total, currency: 'CNY', payer_currency: 'CNY' }, ...over })
    const nonce = newNonce(12)
    const body = JSON.stringify({ id: randomUUID(), create_time: rfc3339Shanghai(Date.now()), resource_type: 'encrypt-resource', event_type: 'TRANSACTION.SUCCESS', summary: '支付成功', resource: { original_type: 'transaction', algorithm: 'AEAD_AES_256_GCM', ciphertext: encryptResource(sim.identity.merchant.apiV3Key, plain, nonce, 'transaction'), associated_data: 'transaction', nonce } })
    return { body, plain, headers: signedResponseHeaders({ privateKey: sim.identity.platformKey, serial: sim.signingSerial, body }) }
  }

  let paidNotification: { headers: Record<string, string>; body: string } | null = null
  let paidOrderId = ''

  it('pays a live order: ScanPay opens the Native order, the customer scans, the signed notification pays it, the merchant gets order.paid', async () => {
    const order = await liveOrder('wx-paid')
    const opened = await openChannelPayment(ctx(), order, 'wechatpay')
    assert.match(opened.qrContent, /^weixin:\/\/wxpay\/bizpayurl\?pr=/)
    const again = await openChannelPayment(ctx(), order, 'wechatpay')
    assert.deepEqual([again.qrContent, again.paymentId, again.created], [opened.qrContent, opened.paymentId, false])
    const simOrder = sim.orders.get(`${sim.identity.merchant.mchid}:${opened.paymentId}`)!
    assert.equal(simOrder.total, 1234)
    assert.equal(simOrder.notifyUrl, notifyUrl())

    sim.pay(opened.qrContent)
    const hook = await eventually(async () => hooksFor(order.id, 'order.paid')[0], 10_000, 'order.paid webhook')
    const event = new Webhook(t.server.merchant.webhook_secret).verify(hook.body, hook.headers as Record<string, string>) as any
    assert.equal(event.type, 'order.paid')
    assert.equal(event.data.status, 'paid')
    assert.equal(event.data.channel, 'wechatpay')
    assert.equal(event.data.channel_trade_no, simOrder.transactionId)
    const attempt = sim.attempts.find((a) => a.body.includes('TRANSACTION.SUCCESS') && !a.probe && a.status === 204)
    assert.ok(attempt, 'WeChat got the 2xx it needs')
    paidNotification = { headers: attempt!.headers, body: attempt!.body }
    paidOrderId = order.id
    const got = await api(url(), live(), 'GET', `/v1/orders/${order.id}`)
    assert.equal(got.body.status, 'paid')
    const payment = await ctx().storage.database.db.selectFrom('payments').selectAll().where('id', '=', opened.paymentId).executeTakeFirstOrThrow()
    assert.deepEqual([payment.status, payment.channel_trade_no, Number(payment.amount)], ['succeeded', simOrder.transactionId, 1234])
    const inbox = await ctx().storage.database.db.selectFrom('channel_notifications').selectAll().where('payment_id', '=', opened.paymentId).execute()
    assert.deepEqual(inbox.map((n) => n.outcome), ['paid'])
  })

  it('a replayed notification (the exact same delivery again) is acknowledged and changes nothing', async () => {
    const before = await snapshot(t.server)
    const res = await post(paidNotification!.headers, paidNotification!.body)
    assert.equal(res.status, 204)
    // Also at the merchant-less URL: the merchant is found by the Wechatpay-Serial it trusts.
    const bare = await fetch(`${url()}/channels/wechatpay/notify`, { method: 'POST', headers: { ...paidNotification!.headers, 'content-type': 'application/json' }, body: paidNotification!.body })
    assert.equal(bare.status, 204)
    await assertUnchanged(t.server, before)
    assert.equal(hooksFor(paidOrderId, 'order.paid').length, 1)
    // An operator sees them: the payment's notification, then its two replays.
    const metrics = await (await fetch(`${url()}/metrics`)).text()
    assert.match(metrics, /^scanpay_channel_notifications_total\{channel="wechatpay",outcome="paid"\} 1$/m)
    assert.match(metrics, /^scanpay_channel_notifications_total\{channel="wechatpay",outcome="duplicate"\} 2$/m)
  })

  it('a forged notification (signed by another key, or altered) is refused and changes nothing', async () => {
    const order = await liveOrder('wx-forged')
    const { paymentId } = await openChannelPayment(ctx(), order, 'wechatpay')
    const plain = JSON.stringify({ mchid: sim.identity.merchant.mchid, appid: sim.identity.merchant.appid, out_trade_no: paymentId, transaction_id: '4200000000000000000000000001', trade_type: 'NATIVE', trade_state: 'SUCCESS', trade_state_desc: '支付成功', success_time: rfc3339Shanghai(Date.now()), amount: { total: 1234, payer_total: 1234, currency: 'CNY', payer_currency: 'CNY' } })
    const nonce = newNonce(12)
    const body = JSON.stringify({ id: randomUUID(), create_time: rfc3339Shanghai(Date.now()), resource_type: 'encrypt-resource', event_type: 'TRANSACTION.SUCCESS', summary: '支付成功', resource: { original_type: 'transaction', algorithm: 'AEAD_AES_256_GCM', ciphertext: encryptResource(sim.identity.merchant.apiV3Key, plain, nonce, 'transaction'), associated_data: 'transaction', nonce } })
    const attacker = selfSignedCertificate({ CN: 'attacker' })
    const before = await snapshot(t.server)
    const forged = await post(signedResponseHeaders({ privateKey: attacker.privateKey, serial: sim.signingSerial, body }), body)
    assert.equal(forged.status, 500)
    assert.deepEqual(await forged.json(), { code: 'FAIL', message: '失败' })
    const genuine = signedResponseHeaders({ privateKey: sim.identity.platformKey, serial: sim.signingSerial, body })
    const altered = await post(genuine, body.replace('"summary":"支付成功"', '"summary":"支付成功 "'))
    assert.equal(altered.status, 500)
    const stale = signedResponseHeaders({ privateKey: sim.identity.platformKey, serial: sim.signingSerial, body, timestamp: Math.floor(Date.now() / 1000) - 600 })
    assert.equal((await post(stale, body)).status, 500, 'a delivery older than 5 minutes is a replay')
    const noEncryption = await post(genuine, body.replace(/"ciphertext":"[^"]+"/, `"ciphertext":"${Buffer.from(plain).toString('base64')}"`))
    assert.equal(noEncryption.status, 500)
    await assertUnchanged(t.server, before)
    assert.equal((await api(url(), live(), 'GET', `/v1/orders/${order.id}`)).body.status, 'pending')
  })

  it('a genuinely signed notification with a wrong amount is refused and changes nothing', async () => {
    const order = await liveOrder('wx-amount')
    const { paymentId } = await openChannelPayment(ctx(), order, 'wechatpay')
    const n = notification(paymentId, 1, '4200000000000000000000000002')
    const before = await snapshot(t.server)
    const res = await post(n.headers, n.body)
    assert.equal(res.status, 500)
    await assertUnchanged(t.server, before)
    assert.equal((await api(url(), live(), 'GET', `/v1/orders/${order.id}`)).body.status, 'pending')
  })

  it('a genuinely signed notification for another appid of the same mchid is refused, and the log says which', async () => {
    const order = await liveOrder('wx-appid')
    const { paymentId } = await openChannelPayment(ctx(), order, 'wechatpay')
    const n = notification(paymentId, 1234, '4200000000000000000000000009', { appid: 'wx0000000000000000' })
    const headers = Object.fromEntries(Object.entries(n.headers).map(([k, v]) => [k.toLowerCase(), v]))
    await assert.rejects(ctx().channels.get('wechatpay')!.parseNotification({ headers, rawBody: n.body, merchantId: t.server.merchant.merchant_id }), {
      reason: 'account_mismatch',
      message: `the notification is for appid wx0000000000000000, not ${sim.identity.merchant.appid}`,
    })
    const before = await snapshot(t.server)
    assert.equal((await post(n.headers, n.body)).status, 500)
    await assertUnchanged(t.server, before)
  })

  it('a genuinely signed success in another currency is refused and changes nothing', async () => {
    const order = await liveOrder('wx-currency')
    const { paymentId } = await openChannelPayment(ctx(), order, 'wechatpay')
    const n = notification(paymentId, 1234, '4200000000000000000000000010', { amount: { total: 1234, payer_total: 1234, currency: 'USD', payer_currency: 'USD' } })
    const before = await snapshot(t.server)
    assert.equal((await post(n.headers, n.body)).status, 500)
    await assertUnchanged(t.server, before)
    assert.equal((await api(url(), live(), 'GET', `/v1/orders/${order.id}`)).body.status, 'pending')
  })

  it('a genuinely signed success whose transaction_id or amount cannot be read is refused on every database, and changes nothing', async () => {
    const order = await liveOrder('wx-unreadable')
    const { paymentId } = await openChannelPayment(ctx(), order, 'wechatpay')
    const before = await snapshot(t.server)
    const amount = (total: unknown) => ({ amount: { total, payer_total: total, currency: 'CNY', payer_currency: 'CNY' } })
    for (const n of [
      notification(paymentId, 1234, '4'.repeat(65)),
      notification(paymentId, 1234, ''),
      notification(paymentId, 1234, '42000000000000000000000000\u00001'),
      notification(paymentId, 1234, '4200000000000000000000000011', amount(1234.5)),
      notification(paymentId, 1234, '4200000000000000000000000011', amount('1234')),
      notification(`${paymentId}\u0000`, 1234, '4200000000000000000000000011'),
    ]) {
      assert.equal((await post(n.headers, n.body)).status, 500, n.plain)
    }
    await assertUnchanged(t.server, before)
    assert.equal((await api(url(), live(), 'GET', `/v1/orders/${order.id}`)).body.status, 'pending')
  })

  it('the same genuine notification delivered 10 times at once pays the order once', async () => {
    const order = await liveOrder('wx-concurrent')
    const { paymentId, qrContent } = await openChannelPayment(ctx(), order, 'wechatpay')
    // Paid at WeChat, whose own notification is lost: the test delivers one like it, ten times at once.
    const paid = sim.pay(qrContent, { notify: false })
    const n = notification(paymentId, 1234, paid.transactionId!, { success_time: rfc3339Shanghai(paid.successTime!) })
    const replies = await Promise.all(Array.from({ length: 10 }, () => post(n.headers, n.body)))
    assert.deepEqual(replies.map((r) => r.status), Array(10).fill(204))
    await eventually(async () => hooksFor(order.id, 'order.paid').length === 1, 10_000, 'order.paid')
    const db = ctx().storage.database.db
    assert.equal((await db.selectFrom('events').select('id').where('order_id', '=', order.id).execute()).length, 1)
    assert.equal((await db.selectFrom('channel_notifications').select('id').where('payment_id', '=', paymentId).execute()).length, 1)
  })

  it('a genuine notification for a payment ScanPay never opened is refused and changes nothing', async () => {
    const n = notification('pay_00000000000000000000000000', 1234, '4200000000000000000000000004')
    const before = await snapshot(t.server)
    assert.equal((await post(n.headers, n.body)).status, 500)
    await assertUnchanged(t.server, before)
  })

  it('a WECHATPAY/SIGNTEST/ probe is answered with a failure and changes nothing', async () => {
    const before = await snapshot(t.server)
    assert.equal(await sim.probe(notifyUrl()), 500)
    await assertUnchanged(t.server, before)
  })

  it('opens nothing for a test order, a channel the order excludes, or a merchant without credentials', async () => {
    const before = await snapshot(t.server)
    const testOrder = (await api(url(), t.server.merchant.test.secret, 'POST', '/v1/orders', { out_trade_no: 'wx-test-mode', amount: 1, subject: 'x' })).body
    const stored = (await ctx().storage.orders.byId(t.server.merchant.merchant_id, 'test', testOrder.id))!
    await assert.rejects(openChannelPayment(ctx(), stored, 'wechatpay'), (e: any) => e.code === 'channel_unavailable')
    const alipayOnly = (await api(url(), live(), 'POST', '/v1/orders', { out_trade_no: 'wx-excluded', amount: 1, subject: 'x', channels: ['alipay'] })).body
    await assert.rejects(openChannelPayment(ctx(), (await ctx().storage.orders.byId(t.server.merchant.merchant_id, 'live', alipayOnly.id))!, 'wechatpay'), (e: any) => e.code === 'channel_unavailable')
    const other = await t.server.newMerchant('No credentials')
    const o = (await api(url(), other.live.secret, 'POST', '/v1/orders', { out_trade_no: 'wx-nocreds', amount: 1, subject: 'x' })).body
    await assert.rejects(openChannelPayment(ctx(), (await ctx().storage.orders.byId(other.merchant_id, 'live', o.id))!, 'wechatpay'), (e: any) => e.code === 'channel_unavailable')
    const after = await snapshot(t.server)
    assert.equal(after.payments, before.payments, 'no payment rows for refused attempts')
  })

  it('a lost notification: the reconciler asks WeChat and finds the payment', async () => {
    const order = await liveOrder('wx-lost')
    const { qrContent } = await openChannelPayment(ctx(), order, 'wechatpay')
    const sent = sim.attempts.length
    sim.pay(qrContent, { notify: false })
    const hook = await eventually(async () => hooksFor(order.id, 'order.paid')[0], 15_000, 'order.paid found by the reconciler')
    new Webhook(t.server.merchant.webhook_secret).verify(hook.body, hook.headers as Record<string, string>)
    assert.equal(sim.attempts.length, sent, 'no notification was sent')
    assert.equal((await api(url(), live(), 'GET', `/v1/orders/${order.id}`)).body.status, 'paid')
  })

  it('a success after the order was closed is recorded, refunded automatically, and the merchant gets payment.unexpected', async () => {
    const order = await liveOrder('wx-late')
    const opened = await openChannelPayment(ctx(), order, 'wechatpay')
    assert.equal((await api(url(), live(), 'POST', `/v1/orders/${order.id}/close`)).body.status, 'closed')
    // The customer's checkout, open (and cached) since: it says closed, nothing of a payment.
    const checkout = async () => (await fetch(`${url()}/pay/${order.payToken}`)).text()
    assert.doesNotMatch(await checkout(), /arrived after this order stopped taking payments/)
    // The customer's payment races the close: WeChat took the money before it heard of the close.
    sim.pay(opened.qrContent, { force: true })
    const hook = await eventually(async () => hooksFor(order.id, 'payment.unexpected')[0], 10_000, 'payment.unexpected webhook')
    const event = new Webhook(t.server.merchant.webhook_secret).verify(hook.body, hook.headers as Record<string, string>) as any
    assert.equal(event.data.status, 'closed')
    assert.equal(event.data.payment.id, opened.paymentId)
    assert.equal(event.data.payment.amount, 1234)
    const simOrder = sim.orders.get(`${sim.identity.merchant.mchid}:${opened.paymentId}`)!
    await eventually(async () => simOrder.refunds.length === 1, 10_000, 'the refund at WeChat')
    assert.equal(simOrder.refunds[0]!.amount, 1234)
    const payment = await eventually(async () => {
      const p = await ctx().storage.database.db.selectFrom('payments').selectAll().where('id', '=', opened.paymentId).executeTakeFirstOrThrow()
      return p.status === 'refunded' ? p : null
    }, 10_000, 'the payment marked refunded')
    assert.equal(Number(payment.unexpected), 1)
    assert.equal((await api(url(), live(), 'GET', `/v1/orders/${order.id}`)).body.status, 'closed')
    // The checkout says so at once, not once its cached read is old (10 s on SQLite): the refund tells it.
    await eventually(async () => /It has been refunded to the account you paid with/.test(await checkout()) || undefined, 2_000, 'the checkout telling the refund')
    // The operator's count of how automatic refunds ended (a refused one pages: operations.md, Alerts).
    const metrics = await (await fetch(`${url()}/metrics`)).text()
    assert.match(metrics, /^scanpay_unexpected_refunds_total\{channel="wechatpay",outcome="refunded"\} 1$/m)
    // WeChat's retries of the same notification change nothing more.
    const attempt = [...sim.attempts].reverse().find((a) => !a.probe && a.status === 204 && a.url === notifyUrl())!
    assert.equal((await post(attempt.headers, attempt.body)).status, 204)
    assert.equal(simOrder.refunds.length, 1)
  })

  it('the day\'s tradebill reconciles with our payments, checked once by the daily job from 10:00 the next day', async () => {
    const today = shanghaiDate(Date.now())
    const adapter = ctx().channels.get('wechatpay') as WechatPayChannel
    const bill = await adapter.downloadTradeBill(t.server.merchant.merchant_id, today)
    assert.deepEqual(bill.rows.map((r) => r.tradeState), ['SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS', 'REFUND'], 'paid, paid once of ten deliveries, found by the reconciler, and the late one, refunded')
    await assertDailyBillChecks(ctx(), { url: url(), liveSecret: live(), testSecret: t.server.merchant.test.secret }, 'wechatpay', t.server.merchant.merchant_id, today, 5)
  })

  /** A live order paid through the simulator, then refunded through the API: WeChat answers PROCESSING. */
  async function refundedLiveOrder(outTradeNo: string, amount: number, outRefundNo: string) {
    const order = await liveOrder(outTradeNo)
    const { qrContent, paymentId } = await openChannelPayment(ctx(), order, 'wechatpay')
    sim.pay(qrContent)
    await eventually(async () => hooksFor(order.id, 'order.paid')[0], 10_000, 'order.paid')
    const res = await api(url(), live(), 'POST', `/v1/orders/${order.id}/refunds`, { amount, out_refund_no: outRefundNo })
    assert.equal(res.status, 201, JSON.stringify(res.body))
    assert.equal(res.body.status, 'pending', 'WeChat answers PROCESSING')
    return { order, res, simOrder: sim.orders.get(`${sim.identity.merchant.mchid}:${paymentId}`)! }
  }

  it('the merchant refunds a live WeChat Pay order through the refunds API: PROCESSING, then settled by asking', async (tc) => {
    // Without WeChat's refund notification (lost, or not sent): only asking can settle it.
    sim.sendRefundNotifications = false
    tc.after(() => void (sim.sendRefundNotifications = true))
    const { order, res, simOrder } = await refundedLiveOrder('wx-refund', 1234, 'WX-R-1')
    assert.deepEqual(simOrder.refunds.map((r) => [r.outRefundNo, r.amount]), [[res.body.id, 1234]])
    // The operator sees the money still owed, and for how long.
    const gauges = async () => {
      const text = await (await fetch(`${url()}/metrics`)).text()
      return [/^scanpay_refunds_pending (\d+)$/m, /^scanpay_refunds_pending_oldest_seconds ([\d.]+)$/m].map((r) => Number(r.exec(text)?.[1]))
    }
    const [count, age] = await gauges()
    assert.equal(count, 1)
    assert.ok(age! >= 0 && age! < 60, String(age))
    // ...and which refund it is: scanpay refunds pending.
    const pending = async (opts: { merchant?: string; json: boolean }) => {
      const printed: string[] = []
      const code = await pendingRefundsCommand(ctx(), { action: 'pending', ...opts }, (line) => void printed.push(line))
      return { code, printed }
    }
    const listed = await pending({ json: true })
    assert.equal(listed.code, 0)
    assert.deepEqual(JSON.parse(listed.printed[0]!).refunds.map((r: { id: string; out_refund_no: string; amount: number }) => [r.id, r.out_refund_no, r.amount]), [[res.body.id, 'WX-R-1', 1234]])
    assert.match((await pending({ merchant: t.server.merchant.merchant_id, json: false })).printed[0]!, new RegExp(`^${res.body.id} ${t.server.merchant.merchant_id} order ${order.id} \\(WX-R-1\\): 12\\.34 CNY through wechatpay, pending under an hour`))
    assert.deepEqual(await pending({ merchant: 'mch_00000000000000000000000000', json: false }), { code: 2, printed: ['no merchant mch_00000000000000000000000000'] })
    // Once WeChat has finished it (the simulator's refunds take 300 ms), bring the refund's next check forward
    // instead of waiting a minute: the refunds job asks WeChat and settles it.
    await eventually(async () => Date.now() > simOrder.refunds[0]!.createdAt + 350, 5000, 'WeChat finishing the refund')
    await ctx().storage.database.db.updateTable('refunds').set({ next_check_at: 0 }).where('id', '=', res.body.id).execute()
    const hook = await eventually(async () => receiver.received.find((w) => JSON.parse(w.body).type === 'refund.succeeded' && JSON.parse(w.body).data.refund.id === res.body.id), 10_000, 'refund.succeeded')
    new Webhook(t.server.merchant.webhook_secret).verify(hook.body, hook.headers as Record<string, string>)
    assert.deepEqual(await gauges(), [0, 0])
    assert.deepEqual((await pending({ json: false })).printed, ['no live refund is waiting for its channel'])
    assert.equal((await api(url(), live(), 'GET', `/v1/orders/${order.id}`)).body.status, 'refunded')
  })

  it("a refund is settled by WeChat's REFUND.SUCCESS notification as soon as WeChat finishes it, once however often it comes", async () => {
    const { order, res, simOrder } = await refundedLiveOrder('wx-refund-notified', 1000, 'WX-R-N')
    assert.equal(simOrder.refunds[0]!.notifyUrl, notifyUrl(), 'the refund names the merchant\'s notify URL')
    // The refund's next question is a minute away: only the notification can settle it within the wait below.
    const stored = await ctx().storage.refunds.byId(t.server.merchant.merchant_id, 'live', res.body.id)
    assert.ok(stored!.nextCheckAt > Date.now() + 30_000)
    const refundHooks = () => receiver.received.filter((w) => JSON.parse(w.body).type === 'refund.succeeded' && JSON.parse(w.body).data.refund.id === res.body.id)
    const hook = await eventually(async () => refundHooks()[0], 10_000, 'refund.succeeded')
    const event = new Webhook(t.server.merchant.webhook_secret).verify(hook.body, hook.headers as Record<string, string>) as any
    assert.equal(event.data.refund.status, 'succeeded')
    assert.equal(event.data.status, 'partially_refunded')
    assert.equal(event.data.amount_refunded, 1000)
    const told = sim.attempts.find((a) => !a.probe && a.url === notifyUrl() && JSON.parse(a.body).event_type === 'REFUND.SUCCESS')!
    assert.equal(told.status, 204)
    // WeChat's retry of the same notification, and the same news under a new notification id, change nothing.
    const before = await snapshot(t.server)
    assert.equal((await post(told.headers, told.body)).status, 204)
    const again = JSON.stringify({ ...JSON.parse(told.body), id: randomUUID() })
    assert.equal((await post(signedResponseHeaders({ privateKey: sim.identity.platformKey, serial: sim.signingSerial, body: again }), again)).status, 204)
    const now = await snapshot(t.server)
    for (const table of ['orders', 'payments', 'refunds'] as const) assert.equal(now[table], before[table], `table ${table} changed`)
    await new Promise((r) => setTimeout(r, 200))
    assert.equal(refundHooks().length, 1)
    assert.equal((await api(url(), live(), 'GET', `/v1/orders/${order.id}`)).body.amount_refunded, 1000)
  })

  it("the day's tradebill lists refunds: ours match, one made in WeChat Pay's merchant platform is flagged for the merchant", async () => {
    const { order, res, simOrder } = await refundedLiveOrder('wx-bill-refund', 234, 'WX-R-BILL')
    await eventually(async () => (await ctx().storage.refunds.byId(order.merchantId, 'live', res.body.id))?.status === 'succeeded' || undefined, 10_000, 'refund settled')
    await assertRefundLines(ctx(), 'wechatpay', order.merchantId, simOrder.outTradeNo, res.body.id, () => sim.consoleRefund(simOrder, 100))
  })

  it('a refund WeChat cannot return (ABNORMAL) is acknowledged and stays pending; once the merchant acts at WeChat, its REFUND.SUCCESS settles it', async (tc) => {
    sim.abnormalRefunds = true
    tc.after(() => void (sim.abnormalRefunds = false))
    const { order, res } = await refundedLiveOrder('wx-refund-abnormal', 1234, 'WX-R-A')
    const db = ctx().storage.database.db
    const told = await eventually(async () => sim.attempts.find((a) => a.url === notifyUrl() && JSON.parse(a.body).event_type === 'REFUND.ABNORMAL' && a.status !== null), 10_000, 'REFUND.ABNORMAL')
    assert.equal(told.status, 204, 'acknowledged: sending it again would not help')
    assert.equal((await db.selectFrom('channel_notifications').select('outcome').where('outcome', '=', 'stuck').execute()).length, 1)
    assert.equal((await api(url(), live(), 'GET', `/v1/refunds/${res.body.id}`)).body.status, 'pending')
    // The day's bill lists it abnormal (CHANGE: no money went back), which agrees with ours, pending.
    const inBill = await billRefundLine(ctx(), 'wechatpay', order.merchantId, res.body.id)
    assert.deepEqual([inBill.lines.map((l) => l.state), inBill.discrepancies], [['failed'], []])
    sim.abnormalRefunds = false
    sim.resolveAbnormalRefund(res.body.id)
    await eventually(async () => receiver.received.find((w) => JSON.parse(w.body).type === 'refund.succeeded' && JSON.parse(w.body).data.refund.id === res.body.id), 10_000, 'refund.succeeded')
    assert.equal((await api(url(), live(), 'GET', `/v1/orders/${order.id}`)).body.status, 'refunded')
  })

  it("refund notifications: one for a refund ScanPay did not make is acknowledged; one naming another payment is refused and changes nothing", async () => {
    const { res, simOrder } = await refundedLiveOrder('wx-refund-crafted', 500, 'WX-R-C')
    await eventually(async () => (await api(url(), live(), 'GET', `/v1/refunds/${res.body.id}`)).body.status === 'succeeded', 10_000, 'the refund settled')
    const crafted = (fields: Record<string, unknown>) => {
      const plain = JSON.stringify({ mchid: sim.identity.merchant.mchid, transaction_id: simOrder.transactionId, out_trade_no: simOrder.outTradeNo, refund_id: '50300000000000000000000000001', out_refund_no: res.body.id, refund_status: 'SUCCESS', success_time: rfc3339Shanghai(Date.now()), user_received_account: '支付用户零钱', amount: { total: 1234, refund: 500, payer_total: 1234, payer_refund: 500 }, ...fields })
      const nonce = newNonce(12)
      const body = JSON.stringify({ id: randomUUID(), create_time: rfc3339Shanghai(Date.now()), resource_type: 'encrypt-resource', event_type: 'REFUND.SUCCESS', summary: '退款成功', resource: { original_type: 'refund', algorithm: 'AEAD_AES_256_GCM', ciphertext: encryptResource(sim.identity.merchant.apiV3Key, plain, nonce, 'refund'), associated_data: 'refund', nonce } })
      return post(signedResponseHeaders({ privateKey: sim.identity.platformKey, serial: sim.signingSerial, body }), body)
    }
    const db = ctx().storage.database.db
    const before = await snapshot(t.server)
    // Made in WeChat's console, say: nothing of ours to settle, and WeChat need not send it for a day.
    assert.equal((await crafted({ out_refund_no: 'console-refund-1' })).status, 204)
    assert.equal((await db.selectFrom('channel_notifications').select('outcome').where('outcome', '=', 'unknown_refund').execute()).length, 1)
    // Our refund's number on another payment: believed by nobody.
    assert.equal((await crafted({ transaction_id: '4200000000000000000000009999' })).status, 500)
    const now = await snapshot(t.server)
    for (const table of ['orders', 'payments', 'refunds'] as const) assert.equal(now[table], before[table], `table ${table} changed`)
  })

  it('an unexpected payment whose refund WeChat refuses waits for the operator: listed, retried once the balance is topped up, refunded once', async () => {
    const order = await liveOrder('wx-late-short')
    const opened = await openChannelPayment(ctx(), order, 'wechatpay')
    assert.equal((await api(url(), live(), 'POST', `/v1/orders/${order.id}/close`)).body.status, 'closed')
    // The customer's page, viewed (and cached) before the money arrives.
    const page = (lang: string) => fetch(`${url()}/pay/${order.payToken}?lang=${lang}`).then((r) => r.text())
    assert.doesNotMatch(await page('en'), /arrived after this order stopped taking payments/)
    sim.balanceShort = true
    sim.pay(opened.qrContent, { force: true })
    await eventually(async () => hooksFor(order.id, 'payment.unexpected')[0], 10_000, 'payment.unexpected webhook')
    const stored = () => ctx().storage.statement((w) => w.payments.byId(opened.paymentId))
    const flagged = await eventually(async () => {
      const p = await stored()
      return p?.status === 'refund_requested' && p.nextCheckAt === null ? p : null
    }, 10_000, 'the refusal recorded: no next check')
    const metrics = await (await fetch(`${url()}/metrics`)).text()
    assert.match(metrics, /^scanpay_unexpected_refunds_total\{channel="wechatpay",outcome="refused"\} 1$/m)
    assert.match(metrics, /^scanpay_unexpected_payments_unrefunded\{state="awaiting_person"\} 1$/m)
    // The customer, whose wallet shows the money taken, reads on the order's page that it is coming back (told
    // at once: the page's cached read, 10 s on SQLite, is dropped when the payment is recorded).
    const closedPage = await page('en')
    assert.match(closedPage, /Order closed/)
    assert.match(closedPage, /Your payment of ¥12\.34 through WeChat Pay arrived after this order stopped taking payments\. It is being refunded/)
    assert.match(await page('zh-CN'), /您在微信支付完成的 ¥12\.34 付款到账时，本订单已无法支付，款项正在原路退回/)

    // The operator's list names it as waiting for a person (exit 3).
    const printed: string[] = []
    const command = (opts: Omit<UnexpectedOptions, 'json'> & { json?: boolean }) => {
      printed.length = 0
      return unexpectedCommand(ctx(), { json: false, ...opts }, (line) => printed.push(line))
    }
    assert.equal(await command({ action: 'list', json: true }), 3)
    const listed = JSON.parse(printed[0]!).payments.find((p: { id: string }) => p.id === opened.paymentId)
    assert.deepEqual(
      [listed.needs_person, listed.amount, listed.currency, listed.channel_trade_no, listed.order_id, listed.next_check_at],
      [true, 1234, 'CNY', flagged.channelTradeNo, order.id, null],
    )
    // Why, as WeChat Pay said it, kept on the payment: the operator need not search the server's log.
    assert.match(listed.refund_refused_reason, /NOT_ENOUGH.*余额不足/)
    assert.equal(await command({ action: 'list' }), 3)
    assert.match(printed.find((line) => line.startsWith(opened.paymentId))!, /WAITS FOR A PERSON: no automatic refund follows \(refused: .*NOT_ENOUGH.*余额不足.*\)$/)
    assert.equal(await command({ action: 'list', merchant: 'mch_nobody' }), 2)
    assert.deepEqual(printed, ['no merchant mch_nobody'])
    const other = await t.server.newMerchant('Nothing unexpected')
    assert.equal(await command({ action: 'list', merchant: other.merchant_id }), 0)
    assert.deepEqual(printed, ['no unexpected payment is waiting for its refund'])

    // Recorded as refunded by hand before anyone refunded it: WeChat Pay, asked, says it is paid and not refunded.
    assert.equal(await command({ action: 'resolve', paymentId: opened.paymentId }), 1)
    assert.match(printed[0]!, /wechatpay says payment pay_\w+ \(\d+\) is paid, with nothing refunded in full: refund it in full in the channel's merchant console first/)
    assert.deepEqual([(await stored())!.status, (await stored())!.nextCheckAt], ['refund_requested', null])

    // Asked again while the balance is still short: refused again, and why.
    assert.equal(await command({ action: 'retry', paymentId: opened.paymentId }), 3)
    assert.match(printed[0]!, /refused the refund again: .*NOT_ENOUGH.*余额不足/)
    assert.equal((await stored())!.nextCheckAt, null)
    const simOrder = sim.orders.get(`${sim.identity.merchant.mchid}:${opened.paymentId}`)!
    assert.equal(simOrder.refunds.length, 0)

    // Topped up: WeChat takes the refund (PROCESSING), and the reconciler settles it on its own.
    sim.balanceShort = false
    assert.equal(await command({ action: 'retry', paymentId: opened.paymentId }), 0)
    assert.match(printed[0]!, /has not said the refund is done \(it has the request and has not finished it, or could not be reached\)/)
    // Being refunded again: the old refusal is no longer why it waits.
    assert.equal((await stored())!.refundRefusedReason, null)
    await eventually(async () => (await stored())!.status === 'refunded', 15_000, 'the payment marked refunded by the reconciler')
    assert.deepEqual(simOrder.refunds.map((r) => r.amount), [1234])
    // The page learns of it within the checkout cache's second.
    await eventually(async () => /It has been refunded to the account you paid with/.test(await page('en')), 5_000, 'the page saying it was refunded')
    // Refunded: nothing more to do, and nothing to record by hand.
    assert.equal(await command({ action: 'resolve', paymentId: opened.paymentId }), 1)
    assert.match(printed[0]!, /is not an unexpected payment awaiting its refund \(it is unexpected, refunded\)/)
    const after = await (await fetch(`${url()}/metrics`)).text()
    assert.match(after, /^scanpay_unexpected_refunds_total\{channel="wechatpay",outcome="refunded"\} 2$/m)
  })
})

describeEachDatabase('WeChat Pay certificate mode: WeChat rotates its platform certificate', (t) => {
  const sim = new WechatPaySimulator({ serialMode: 'certificate', retryScale: 0.002 })
  const publicKeySim = new WechatPaySimulator({ serialMode: 'public-key', retryScale: 0.002 })
  const receiver = new WebhookReceiver()
  const ctx = () => t.server.server.ctx
  const notifyUrl = (m: NewMerchantCredentials) => `${t.server.url}/channels/wechatpay/notify/${m.merchant_id}`
  // Each test's merchant has its own download window, so each starts from the certificate it was set up with.
  let notified: NewMerchantCredentials
  let queried: NewMerchantCredentials
  let forged: NewMerchantCredentials
  let publicKey: NewMerchantCredentials

  before(async () => {
    await sim.start()
    await publicKeySim.start()
    await receiver.start()
    const beforeRotation = sim.credentialsDocument()
    notified = t.server.merchant
    queried = await t.server.newMerchant('Queried after the rotation')
    forged = await t.server.newMerchant('Sent made-up serials')
    publicKey = await t.server.newMerchant('Public-key mode')
    for (const [m, doc] of [[notified, beforeRotation], [queried, beforeRotation], [forged, beforeRotation], [publicKey, publicKeySim.credentialsDocument()]] as const) {
      const set = await ctx().channelCredentials.set(m.merchant_id, 'wechatpay', doc)
      assert.ok(set.ok, JSON.stringify(set))
    }
  })
  after(async () => {
    await sim.stop()
    await publicKeySim.stop()
    await receiver.stop()
  })

  async function liveOrder(m: NewMerchantCredentials, outTradeNo: string) {
    const res = await api(t.server.url, m.live.secret, 'POST', '/v1/orders', { out_trade_no: outTradeNo, amount: 1234, subject: '拿铁 Latte', notify_url: receiver.url, channels: ['wechatpay'] })
    assert.equal(res.status, 201, JSON.stringify(res.body))
    return (await ctx().storage.orders.byId(m.merchant_id, 'live', res.body.id))!
  }
  const paidHook = (orderId: string) => receiver.received.find((w) => JSON.parse(w.body).type === 'order.paid' && JSON.parse(w.body).data.id === orderId)

  /** A payment notification for `s`'s merchant signed by `signer` (a key and the serial it claims). */
  function signedNotification(s: WechatPaySimulator, paymentId: string, signer: { privateKey: KeyObject; serial: string }) {
    const plain = JSON.stringify({ mchid: s.identity.merchant.mchid, appid: s.identity.merchant.appid, out_trade_no: paymentId, transaction_id: '4200000000000000000000000009', trade_type: 'NATIVE', trade_state: 'SUCCESS', trade_state_desc: '支付成功', success_time: rfc3339Shanghai(Date.now()), amount: { total: 1234, payer_total: 1234, currency: 'CNY', payer_currency: 'CNY' } })
    const nonce = newNonce(12)
    const body = JSON.stringify({ id: randomUUID(), create_time: rfc3339Shanghai(Date.now()), resource_type: 'encrypt-resource', event_type: 'TRANSACTION.SUCCESS', summary: '支付成功', resource: { original_type: 'transaction', algorithm: 'AEAD_AES_256_GCM', ciphertext: encryptResource(s.identity.merchant.apiV3Key, plain, nonce, 'transaction'), associated_data: 'transaction', nonce } })
    return { body, headers: { ...signedResponseHeaders({ privateKey: signer.privateKey, serial: signer.serial, body }), 'content-type': 'application/json' } }
  }

  it('after a rotation, the notification signed with the new certificate pays the order at its first delivery, after one download', async () => {
    const order = await liveOrder(notified, 'wxr-notified')
    const opened = await openChannelPayment(ctx(), order, 'wechatpay')
    assert.equal(sim.certificateDownloads, 0, 'the configured certificate still verifies the prepay answer')
    const newSerial = sim.rotatePlatformCertificate()
    sim.pay(opened.qrContent)
    await eventually(async () => paidHook(order.id), 10_000, 'order.paid webhook')
    const deliveries = sim.attempts.filter((a) => a.url === notifyUrl(notified) && !a.probe)
    assert.deepEqual(deliveries.map((a) => [a.headers['Wechatpay-Serial'], a.status]), [[newSerial, 204]])
    assert.equal((await api(t.server.url, notified.live.secret, 'GET', `/v1/orders/${order.id}`)).body.status, 'paid')
    assert.equal(sim.certificateDownloads, 1)
  })

  it('answers signed with the new certificate are believed: a payment whose notification was lost is found by the reconciler', async () => {
    const downloads = sim.certificateDownloads
    const order = await liveOrder(queried, 'wxr-lost')
    // The prepay answer is the first thing this merchant sees signed with the new certificate.
    const opened = await openChannelPayment(ctx(), order, 'wechatpay')
    assert.equal(sim.certificateDownloads, downloads + 1)
    sim.pay(opened.qrContent, { notify: false })
    await eventually(async () => paidHook(order.id), 15_000, 'order.paid found by the reconciler')
    assert.equal((await api(t.server.url, queried.live.secret, 'GET', `/v1/orders/${order.id}`)).body.status, 'paid')
    assert.equal(sim.certificateDownloads, downloads + 1, 'its queries used the certificate learned')
  })

  it('a notification naming a made-up serial is refused and downloads at most once in the window; a public-key-mode merchant never downloads', async () => {
    const attacker = selfSignedCertificate({ CN: 'attacker' })
    const downloads = sim.certificateDownloads
    const before = await snapshot(t.server)
    const post = (m: NewMerchantCredentials, n: { headers: Record<string, string>; body: string }) => fetch(notifyUrl(m), { method: 'POST', headers: n.headers, body: n.body })
    const madeUp = () => signedNotification(sim, 'pay_00000000000000000000000000', attacker)
    const replies = await Promise.all(Array.from({ length: 5 }, () => post(forged, madeUp())))
    for (let i = 0; i < 3; i++) replies.push(await post(forged, madeUp()))
    assert.deepEqual(replies.map((r) => r.status), Array(8).fill(500))
    assert.equal(sim.certificateDownloads, downloads + 1)

    const publicKeyForged = await post(publicKey, signedNotification(publicKeySim, 'pay_00000000000000000000000000', attacker))
    assert.equal(publicKeyForged.status, 500)
    await assertUnchanged(t.server, before)
    const order = await liveOrder(publicKey, 'wxr-public-key')
    const opened = await openChannelPayment(ctx(), order, 'wechatpay')
    publicKeySim.pay(opened.qrContent)
    await eventually(async () => paidHook(order.id), 10_000, 'order.paid webhook')
    assert.equal(publicKeySim.certificateDownloads, 0)
  })
})
