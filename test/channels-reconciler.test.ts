// The reconciler's end of an unpaid attempt, on SQLite and PostgreSQL: when a live order expires, its open
// channel orders are closed at WeChat and Alipay (so a late scan cannot pay), and its payments end closed; a
// WeChat attempt whose payment failed is closed at WeChat too before the customer can open another.
// The platform's clock is moved forward instead of waiting out the order.
import assert from 'node:assert/strict'
import { after, before, it } from 'node:test'
import { AlipaySimulator } from '../src/channels/alipay/simulator.ts'
import { openChannelPayment } from '../src/channels/open-channel-payment.ts'
import { WechatPaySimulator } from '../src/channels/wechat-pay/simulator.ts'
import { describeEachDatabase } from './helpers/each-database.ts'
import { api } from './helpers/server.ts'
import { eventually, WebhookReceiver } from './helpers/webhook-receiver.ts'

let offset = 0
const clock = { now: () => Date.now() + offset }

describeEachDatabase(
  'channel reconciler at expiry',
  (t) => {
    const wx = new WechatPaySimulator()
    const ali = new AlipaySimulator()
    const receiver = new WebhookReceiver()
    const ctx = () => t.server.server.ctx
    before(async () => {
      offset = 0
      await wx.start()
      await ali.start()
      await receiver.start()
      const m = t.server.merchant.merchant_id
      assert.ok((await ctx().channelCredentials.set(m, 'wechatpay', wx.credentialsDocument())).ok)
      assert.ok((await ctx().channelCredentials.set(m, 'alipay', ali.credentialsDocument())).ok)
    })
    after(async () => {
      await wx.stop()
      await ali.stop()
      await receiver.stop()
    })

    it('expires the order, closes both channel orders, and a scan afterwards cannot pay', async () => {
      const res = await api(t.server.url, t.server.merchant.live.secret, 'POST', '/v1/orders', { out_trade_no: 'rec-expire', amount: 500, subject: 'Tea', expires_in: 60, notify_url: receiver.url })
      assert.equal(res.status, 201)
      const order = (await ctx().storage.orders.byId(t.server.merchant.merchant_id, 'live', res.body.id))!
      const w = await openChannelPayment(ctx(), order, 'wechatpay')
      const a = await openChannelPayment(ctx(), order, 'alipay')
      ali.scan(a.qrContent)
      // An open attempt is asked about while the order lives: still pending at both channels.
      await eventually(async () => {
        const rows = await ctx().storage.database.db.selectFrom('payments').select(['check_count']).where('order_id', '=', order.id).execute()
        return rows.length === 2 && rows.every((r) => Number(r.check_count) >= 1)
      }, 10_000, 'the first checks')
      offset = 61_000
      await eventually(async () => (await api(t.server.url, t.server.merchant.live.secret, 'GET', `/v1/orders/${order.id}`)).body.status === 'expired', 10_000, 'expiry')
      const payments = await eventually(async () => {
        const rows = await ctx().storage.database.db.selectFrom('payments').selectAll().where('order_id', '=', order.id).execute()
        return rows.every((r) => r.status === 'closed') ? rows : null
      }, 10_000, 'both attempts closed')
      assert.equal(payments.length, 2)
      assert.ok(payments.every((p) => p.next_check_at === null), 'nothing left to ask')
      assert.equal(wx.orders.get(`${wx.identity.merchant.mchid}:${w.paymentId}`)!.state, 'CLOSED')
      assert.equal(ali.trades.get(`${ali.identity.appId}:${a.paymentId}`)!.status, 'TRADE_CLOSED')
      assert.throws(() => wx.pay(w.qrContent), /CLOSED/)
      assert.throws(() => ali.pay(a.qrContent), /TRADE_CLOSED/)
      const reopened = await openChannelPayment(ctx(), order, 'wechatpay').catch((e: Error & { code?: string }) => e.code)
      assert.equal(reopened, 'order_not_pending')
    })

    it('a WeChat payment that fails (PAYERROR) ends its attempt only once its WeChat order is closed, so the next attempt cannot be paid twice', async () => {
      const res = await api(t.server.url, t.server.merchant.live.secret, 'POST', '/v1/orders', { out_trade_no: 'rec-payerror', amount: 500, subject: 'Tea', expires_in: 600, notify_url: receiver.url })
      assert.equal(res.status, 201)
      const order = (await ctx().storage.orders.byId(t.server.merchant.merchant_id, 'live', res.body.id))!
      const w = await openChannelPayment(ctx(), order, 'wechatpay')
      wx.decline(w.qrContent)
      await eventually(async () => {
        const row = await ctx().storage.database.db.selectFrom('payments').select(['status']).where('id', '=', w.paymentId).executeTakeFirst()
        return row?.status === 'failed'
      }, 10_000, 'the attempt failed')
      assert.equal(wx.orders.get(`${wx.identity.merchant.mchid}:${w.paymentId}`)!.state, 'CLOSED', 'WeChat closed the failed order')
      const next = await openChannelPayment(ctx(), order, 'wechatpay')
      assert.notEqual(next.paymentId, w.paymentId)
    })
  },
  { clock },
)
