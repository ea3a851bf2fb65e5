// End to end through the Alipay simulator, on SQLite and PostgreSQL: a live order paid by a simulated scan
// (the exact `success` reply), and every notification that must change nothing (forged, replayed, wrong
// amount); a lost notification found by the reconciler; a success after close refunded with payment.unexpected.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { Webhook } from 'standardwebhooks'
import { notifySignContent, rsa2Sign } from '../src/channels/alipay/signing.ts'
import { AlipaySimulator } from '../src/channels/alipay/simulator.ts'
import type { AlipayChannel } from '../src/channels/alipay/alipay-channel.ts'
import { openChannelPayment } from '../src/channels/open-channel-payment.ts'
import type { PaymentChannel } from '../src/core/payment-channel.ts'
import { askAboutRefundNow, reconcilePendingRefunds } from '../src/core/use-cases/reconcile-refunds.ts'
import { unexpectedCommand } from '../src/cli/commands/unexpected.ts'
import type { RefundDeps } from '../src/core/use-cases/refund-deps.ts'
import { generateRsaKeyPair } from '../src/channels/self-signed-certificate.ts'
import { shanghaiDate } from '../src/channels/shanghai-time.ts'
import { assertDailyBillChecks, assertRefundLines } from './helpers/daily-bills.ts'
import { withChannelSimulator } from './helpers/channel-simulator.ts'
import { describeEachDatabase } from './helpers/each-database.ts'
import { api } from './helpers/server.ts'
import { assertUnchanged, snapshot } from './helpers/snapshot.ts'
import { eventually, WebhookReceiver } from './helpers/webhook-receiver.ts'

describeEachDatabase('Alipay live payments through the simulator', (t) => {
  const sim = new AlipaySimulator({ retryScale: 0.0002 })
  const receiver = new WebhookReceiver()
  const url = () => t.server.url
  const live = () => t.server.merchant.live.secret
  const ctx = () => t.server.server.ctx
  const notifyUrl = () => `${url()}/channels/alipay/notify/${t.server.merchant.merchant_id}`
  const hooksFor = (orderId: string, type: string) => receiver.received.filter((w) => JSON.parse(w.body).type === type && JSON.parse(w.body).data.id === orderId)

  withChannelSimulator(t, 'alipay', sim, receiver)

  async function liveOrder(outTradeNo: string) {
    const res = await api(url(), live(), 'POST', '/v1/orders', { out_trade_no: outTradeNo, amount: 1234, subject: '拿铁 Latte', notify_url: receiver.url, channels: ['alipay', 'wechatpay'] })
    assert.equal(res.status, 201, JSON.stringify(res.body))
    return (await ctx().storage.orders.byId(t.server.merchant.merchant_id, 'live', res.body.id))!
  }
  /** A live order paid through the simulator, the merchant told (order.paid). */
  async function paidLiveOrder(outTradeNo: string) {
    const order = await liveOrder(outTradeNo)
    const { qrContent, paymentId } = await openChannelPayment(ctx(), order, 'alipay')
    sim.pay(qrContent)
    await eventually(async () => hooksFor(order.id, 'order.paid')[0], 10_000, 'order.paid')
    return { order, paymentId }
  }
  const post = (body: string, path = notifyUrl()) => fetch(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, body })
  const resign = (params: Record<string, string>, key = sim.identity.alipayKey) => {
    const { sign: _s, sign_type: _t, ...rest } = params
    return new URLSearchParams({ ...rest, sign: rsa2Sign(notifySignContent(rest), key), sign_type: 'RSA2' }).toString()
  }

  let paidBody = ''
  let paidOrderId = ''

  it('pays a live order: precreate, the customer scans and pays, the notification is answered `success`, the merchant gets order.paid', async () => {
    const order = await liveOrder('ali-paid')
    const opened = await openChannelPayment(ctx(), order, 'alipay')
    assert.match(opened.qrContent, /^https:\/\/qr\.alipay\.com\//)
    const trade = sim.trades.get(`${sim.identity.appId}:${opened.paymentId}`)!
    assert.equal(trade.total, 1234)
    assert.equal(trade.notifyUrl, notifyUrl())
    sim.pay(opened.qrContent)
    const hook = await eventually(async () => hooksFor(order.id, 'order.paid')[0], 10_000, 'order.paid webhook')
    const event = new Webhook(t.server.merchant.webhook_secret).verify(hook.body, hook.headers as Record<string, string>) as any
    assert.equal(event.data.channel, 'alipay')
    assert.equal(event.data.channel_trade_no, trade.tradeNo)
    const attempt = await eventually(async () => sim.attempts.find((a) => a.params.out_trade_no === opened.paymentId && a.reply !== null), 5000, 'the reply')
    assert.equal(attempt.reply, 'success')
    assert.equal(attempt.status, 200)
    paidBody = attempt.body
    paidOrderId = order.id
  })

  it('a replayed notification is answered `success` and changes nothing', async () => {
    const before = await snapshot(t.server)
    const res = await post(paidBody)
    assert.equal(await res.text(), 'success')
    // The same notification arriving at the merchant-less URL is matched by app_id, and is still a duplicate.
    assert.equal(await (await post(paidBody, `${url()}/channels/alipay/notify`)).text(), 'success')
    await assertUnchanged(t.server, before)
    assert.equal(hooksFor(paidOrderId, 'order.paid').length, 1)
  })

  it('forged notifications (another key, altered fields, no signature) are refused and change nothing', async () => {
    const order = await liveOrder('ali-forged')
    const { paymentId, qrContent } = await openChannelPayment(ctx(), order, 'alipay')
    sim.scan(qrContent)
    const genuine = Object.fromEntries(new URLSearchParams(paidBody))
    const forgedParams = { ...genuine, out_trade_no: paymentId, notify_id: 'forged-1', trade_no: '2026112622001400000000000001' }
    const before = await snapshot(t.server)
    const attacker = generateRsaKeyPair()
    for (const body of [
      resign(forgedParams, attacker.privateKey),
      new URLSearchParams({ ...genuine, out_trade_no: paymentId }).toString(),
      new URLSearchParams(Object.entries(forgedParams).filter(([k]) => k !== 'sign')).toString(),
    ]) {
      const res = await post(body)
      assert.notEqual(await res.text(), 'success')
    }
    await assertUnchanged(t.server, before)
    assert.equal((await api(url(), live(), 'GET', `/v1/orders/${order.id}`)).body.status, 'pending')
  })

  it('a genuinely signed notification with a wrong amount is refused and changes nothing', async () => {
    const order = await liveOrder('ali-amount')
    const { paymentId } = await openChannelPayment(ctx(), order, 'alipay')
    const genuine = Object.fromEntries(new URLSearchParams(paidBody))
    const body = resign({ ...genuine, out_trade_no: paymentId, notify_id: 'amount-1', total_amount: '0.01', receipt_amount: '0.01', buyer_pay_amount: '0.01', invoice_amount: '0.01' })
    const before = await snapshot(t.server)
    const res = await post(body)
    assert.equal(await res.text(), 'fail')
    await assertUnchanged(t.server, before)
    assert.equal((await api(url(), live(), 'GET', `/v1/orders/${order.id}`)).body.status, 'pending')
  })

  it('a notification holding NUL, or ids no column holds, is refused with `fail` on every database and changes nothing', async () => {
    const order = await liveOrder('ali-nul')
    const { paymentId } = await openChannelPayment(ctx(), order, 'alipay')
    const genuine = Object.fromEntries(new URLSearchParams(paidBody))
    const before = await snapshot(t.server)
    for (const body of [
      // Unsigned: anyone can send these, to either address.
      'app_id=%00x&sign=abc&notify_id=1&out_trade_no=1',
      'app_id=\u0000x&sign=abc&notify_id=1&out_trade_no=1',
      // Signed as Alipay would, with what PostgreSQL cannot hold.
      resign({ ...genuine, out_trade_no: paymentId, notify_id: 'n\u0000x' }),
      resign({ ...genuine, out_trade_no: `${paymentId}\u0000` }),
      resign({ ...genuine, out_trade_no: paymentId, notify_id: 'n'.repeat(129) }),
      resign({ ...genuine, out_trade_no: 'p'.repeat(41), notify_id: 'long-out-trade-no' }),
    ]) {
      for (const path of [notifyUrl(), `${url()}/channels/alipay/notify`]) {
        const res = await post(body, path)
        assert.equal(await res.text(), 'fail', body)
      }
    }
    await assertUnchanged(t.server, before)
  })

  it('a lost notification: the reconciler asks Alipay and finds the payment', async () => {
    const order = await liveOrder('ali-lost')
    const { qrContent } = await openChannelPayment(ctx(), order, 'alipay')
    sim.pay(qrContent, { notify: false })
    await eventually(async () => hooksFor(order.id, 'order.paid')[0], 15_000, 'order.paid found by the reconciler')
    assert.equal((await api(url(), live(), 'GET', `/v1/orders/${order.id}`)).body.status, 'paid')
  })

  it('a success after the order was closed is recorded, refunded automatically, and the merchant gets payment.unexpected', async () => {
    const order = await liveOrder('ali-late')
    const opened = await openChannelPayment(ctx(), order, 'alipay')
    sim.scan(opened.qrContent)
    assert.equal((await api(url(), live(), 'POST', `/v1/orders/${order.id}/close`)).body.status, 'closed')
    sim.pay(opened.qrContent, { force: true })
    const hook = await eventually(async () => hooksFor(order.id, 'payment.unexpected')[0], 10_000, 'payment.unexpected webhook')
    const event = new Webhook(t.server.merchant.webhook_secret).verify(hook.body, hook.headers as Record<string, string>) as any
    assert.equal(event.data.payment.id, opened.paymentId)
    const trade = sim.trades.get(`${sim.identity.appId}:${opened.paymentId}`)!
    await eventually(async () => trade.refunds.length === 1, 10_000, 'the refund at Alipay')
    assert.equal(trade.refunds[0]!.amount, 1234)
    await eventually(async () => {
      const p = await ctx().storage.database.db.selectFrom('payments').selectAll().where('id', '=', opened.paymentId).executeTakeFirstOrThrow()
      return p.status === 'refunded'
    }, 10_000, 'the payment marked refunded')
    assert.equal((await api(url(), live(), 'GET', `/v1/orders/${order.id}`)).body.status, 'closed')
  })

  it('the day\'s bill reconciles with our payments, checked once by the daily job from 10:00 the next day', async () => {
    const today = shanghaiDate(Date.now())
    const adapter = ctx().channels.get('alipay') as AlipayChannel
    const bill = await adapter.downloadBill(t.server.merchant.merchant_id, today)
    assert.equal(bill.rows.filter((r) => r.businessType === '交易').length, 3, 'paid, found by the reconciler, and the late one')
    assert.equal(bill.rows.filter((r) => r.businessType === '退款').length, 1, 'the late one refunded')
    await assertDailyBillChecks(ctx(), { url: url(), liveSecret: live(), testSecret: t.server.merchant.test.secret }, 'alipay', t.server.merchant.merchant_id, today, 4)
  })

  it('the merchant refunds a live Alipay order through the refunds API: Alipay refunds at once', async () => {
    const { order, paymentId } = await paidLiveOrder('ali-refund')
    const res = await api(url(), live(), 'POST', `/v1/orders/${order.id}/refunds`, { amount: 234, out_refund_no: 'ALI-R-1', reason: '少一杯' })
    assert.equal(res.status, 201, JSON.stringify(res.body))
    assert.equal(res.body.status, 'succeeded')
    const trade = sim.trades.get(`${sim.identity.appId}:${paymentId}`)!
    assert.deepEqual(trade.refunds.map((r) => [r.outRequestNo, r.amount]), [[res.body.id, 234]])
    const got = (await api(url(), live(), 'GET', `/v1/orders/${order.id}`)).body
    assert.deepEqual([got.status, got.amount_refunded], ['partially_refunded', 234])
  })

  it("the day's bill lists refunds: ours match, one made in Alipay's merchant console is flagged for the merchant", async () => {
    const { order, paymentId } = await paidLiveOrder('ali-bill-refund')
    const res = await api(url(), live(), 'POST', `/v1/orders/${order.id}/refunds`, { amount: 234, out_refund_no: 'ALI-R-BILL' })
    assert.equal(res.body.status, 'succeeded', JSON.stringify(res.body))
    const trade = sim.trades.get(`${sim.identity.appId}:${paymentId}`)!
    await assertRefundLines(ctx(), 'alipay', order.merchantId, paymentId, res.body.id, () => sim.consoleRefund(trade, 100))
  })

  it('a full refund closes the trade and Alipay notifies TRADE_CLOSED: answered `success`, the order stays refunded', async () => {
    const { order, paymentId } = await paidLiveOrder('ali-full-refund')
    const res = await api(url(), live(), 'POST', `/v1/orders/${order.id}/refunds`, { amount: 1234, out_refund_no: 'ALI-FULL-1' })
    assert.equal(res.body.status, 'succeeded', JSON.stringify(res.body))
    const closed = await eventually(async () => sim.attempts.find((a) => a.params.out_trade_no === paymentId && a.params.trade_status === 'TRADE_CLOSED' && a.reply !== null), 10_000, 'the TRADE_CLOSED notification answered')
    assert.deepEqual([closed.status, closed.reply, closed.params.refund_fee, closed.params.out_biz_no], [200, 'success', '12.34', res.body.id])
    const got = (await api(url(), live(), 'GET', `/v1/orders/${order.id}`)).body
    assert.deepEqual([got.status, got.amount_refunded], ['refunded', 1234])
    const p = await ctx().storage.database.db.selectFrom('payments').select('status').where('id', '=', paymentId).executeTakeFirstOrThrow()
    assert.equal(p.status, 'succeeded')
  })

  it('a refund Alipay lists without refund_status: pending at first, then sent again under its number (refunded once), after a day for a person', async (tc) => {
    // This test is the only refund sweeper: the server's own job would otherwise claim the checks it stages.
    const jobs = ctx().jobs
    await jobs.stop()
    tc.after(() => jobs.start())
    const { order, paymentId } = await paidLiveOrder('ali-held')
    sim.holdRefunds = true
    tc.after(() => void (sim.holdRefunds = false))
    const res = await api(url(), live(), 'POST', `/v1/orders/${order.id}/refunds`, { amount: 100, out_refund_no: 'ALI-HELD-1' })
    assert.equal(res.body.status, 'pending', JSON.stringify(res.body))
    const base = ctx().refundDeps
    const sent: string[] = []
    const stuck: string[] = []
    const spy = (c: PaymentChannel) =>
      new Proxy(c, {
        get: (target, name) =>
          name === 'refund'
            ? (input: Parameters<PaymentChannel['refund']>[0]) => (sent.push(input.refundId), target.refund(input))
            : typeof Reflect.get(target, name) === 'function'
              ? (Reflect.get(target, name) as (...a: unknown[]) => unknown).bind(target)
              : Reflect.get(target, name),
      })
    const deps: RefundDeps = { ...base, channel: (name) => { const c = base.channel(name); return c && spy(c) }, onRefundStuck: (r, why) => void stuck.push(`${r.id} ${why}`) }
    const db = ctx().storage.database.db
    const sweep = async (sentAgo: number) => {
      await db.updateTable('refunds').set({ next_check_at: 0, created_at: Date.now() - sentAgo }).where('id', '=', res.body.id).execute()
      return reconcilePendingRefunds(deps)
    }
    // Just sent: still under way.
    assert.equal(await sweep(0), 0)
    assert.deepEqual([sent, stuck], [[], []])
    // Past the window: taken as not received and sent again, the same out_request_no; Alipay refunds it once.
    assert.equal(await sweep(11 * 60_000), 0)
    assert.deepEqual(sent, [res.body.id])
    const trade = sim.trades.get(`${sim.identity.appId}:${paymentId}`)!
    assert.deepEqual(trade.refunds.map((r) => [r.outRequestNo, r.amount]), [[res.body.id, 100]])
    // A day on, no more sending: a person is told.
    assert.equal(await sweep(25 * 3_600_000), 0)
    assert.equal(sent.length, 1)
    assert.equal(stuck.length, 1)
    assert.match(stuck[0]!, /merchant console/)
    assert.equal((await api(url(), live(), 'GET', `/v1/refunds/${res.body.id}`)).body.status, 'pending')
    // Once Alipay makes it, the refund succeeds.
    sim.settleRefunds()
    assert.equal(await sweep(25 * 3_600_000), 1)
    const got = (await api(url(), live(), 'GET', `/v1/orders/${order.id}`)).body
    assert.deepEqual([got.status, got.amount_refunded], ['partially_refunded', 100])
  })

  it("a refund Alipay makes later is settled as soon as Alipay's notification of it comes, not at its next scheduled question", async () => {
    const { order, paymentId } = await paidLiveOrder('ali-told')
    sim.holdRefunds = true
    let res
    try {
      res = await api(url(), live(), 'POST', `/v1/orders/${order.id}/refunds`, { amount: 100, out_refund_no: 'ALI-TOLD-1' })
    } finally {
      sim.holdRefunds = false
    }
    assert.equal(res.body.status, 'pending', JSON.stringify(res.body))
    // Its next question is an hour away.
    const db = ctx().storage.database.db
    const later = Date.now() + 3_600_000
    await db.updateTable('refunds').set({ next_check_at: later }).where('id', '=', res.body.id).execute()
    const told = sim.attempts.length
    sim.settleRefunds()
    // Alipay's notification names the refund (out_biz_no): it is asked about at once, and succeeds.
    await eventually(async () => (await api(url(), live(), 'GET', `/v1/refunds/${res.body.id}`)).body.status === 'succeeded' || undefined, 10_000, 'refund settled')
    const notice = sim.attempts.slice(told).find((a) => a.params.out_trade_no === paymentId)!
    assert.deepEqual([notice.params.trade_status, notice.params.out_biz_no, notice.params.refund_fee, notice.reply], ['TRADE_SUCCESS', res.body.id, '1.00', 'success'])
    await eventually(async () => hooksFor(order.id, 'refund.succeeded').find((w) => JSON.parse(w.body).data.refund.id === res.body.id), 10_000, 'refund.succeeded')
    // A notification naming a refund that is not pending (settled, another merchant's, or none) brings nothing forward.
    assert.equal(await askAboutRefundNow(ctx().refundDeps, 'alipay', order.merchantId, res.body.id), false)
    assert.equal(await askAboutRefundNow(ctx().refundDeps, 'alipay', order.merchantId, 'rfd_none'), false)
  })

  it('an unexpected payment whose refund Alipay refuses is recorded as refunded by hand only once Alipay shows it given back in full', async () => {
    const order = await liveOrder('ali-late-short')
    const opened = await openChannelPayment(ctx(), order, 'alipay')
    sim.scan(opened.qrContent)
    assert.equal((await api(url(), live(), 'POST', `/v1/orders/${order.id}/close`)).body.status, 'closed')
    const stored = () => ctx().storage.statement((w) => w.payments.byId(opened.paymentId))
    sim.balanceShort = true
    try {
      sim.pay(opened.qrContent, { force: true })
      await eventually(async () => {
        const p = await stored()
        return p?.status === 'refund_requested' && p.nextCheckAt === null
      }, 10_000, 'the refusal recorded: waits for a person')
    } finally {
      sim.balanceShort = false
    }
    const printed: string[] = []
    const resolve = () => {
      printed.length = 0
      return unexpectedCommand(ctx(), { action: 'resolve', paymentId: opened.paymentId, json: false }, (line) => printed.push(line))
    }
    // Nothing refunded yet, then a part of it in Alipay's console: the trade is still TRADE_SUCCESS.
    const trade = sim.trades.get(`${sim.identity.appId}:${opened.paymentId}`)!
    for (const part of [0, 600]) {
      if (part) sim.consoleRefund(trade, part)
      assert.equal(await resolve(), 1)
      assert.match(printed[0]!, /^alipay says payment pay_\w+ \(\d+\) is paid, with nothing refunded in full: refund it in full in the channel's merchant console first/)
      assert.equal((await stored())!.status, 'refund_requested')
    }
    // The rest: Alipay closes the trade, refunded in full.
    sim.consoleRefund(trade, 1234 - 600)
    assert.equal(await resolve(), 0)
    assert.deepEqual(printed, [`${opened.paymentId} recorded as refunded by hand`])
    assert.deepEqual([(await stored())!.status, (await stored())!.nextCheckAt], ['refunded', null])
    assert.equal((await api(url(), live(), 'GET', `/v1/orders/${order.id}`)).body.status, 'closed')
  })

  it('a signed success whose amount or trade number cannot be read is refused, not recorded: its corrected retry pays', async () => {
    const order = await liveOrder('ali-unreadable')
    const { paymentId, qrContent } = await openChannelPayment(ctx(), order, 'alipay')
    // Paid at Alipay (so its bill agrees), its notification written here instead.
    const trade = sim.pay(qrContent, { notify: false })
    const genuine = Object.fromEntries(new URLSearchParams(paidBody))
    const retry = { ...genuine, out_trade_no: paymentId, notify_id: 'unreadable-1', total_amount: '12.34', trade_no: trade.tradeNo! }
    const before = await snapshot(t.server)
    for (const unreadable of [{ total_amount: '12.340' }, { total_amount: '1.234e1' }, { total_amount: 'abc' }, { total_amount: undefined }, { trade_no: undefined }, { trade_no: '2'.repeat(65) }]) {
      const params = Object.fromEntries(Object.entries({ ...retry, ...unreadable }).filter(([, v]) => v !== undefined)) as Record<string, string>
      const res = await post(resign(params))
      assert.equal(await res.text(), 'fail', JSON.stringify(unreadable))
    }
    await assertUnchanged(t.server, before)
    // Alipay sends the same notification again (same notify_id), readable this time: not taken for a duplicate.
    assert.equal(await (await post(resign(retry))).text(), 'success')
    assert.equal((await api(url(), live(), 'GET', `/v1/orders/${order.id}`)).body.status, 'paid')
  })
})
