// Channel notifications are deduplicated per merchant, end to end on SQLite and PostgreSQL: a notification id that
// another merchant's channel keys used first (here a second ScanPay merchant with Alipay credentials of its own)
// does not make this merchant's genuine notification a duplicate, while its own replays still are.
import assert from 'node:assert/strict'
import { after, before, it } from 'node:test'
import { notifySignContent, rsa2Sign } from '../src/channels/alipay/signing.ts'
import { AlipaySimulator } from '../src/channels/alipay/simulator.ts'
import { openChannelPayment } from '../src/channels/open-channel-payment.ts'
import type { NewMerchantCredentials } from '../src/merchants/create-merchant.ts'
import { describeEachDatabase } from './helpers/each-database.ts'
import { api } from './helpers/server.ts'

describeEachDatabase('channel notifications are deduplicated per merchant', (t) => {
  // Notifications are posted by the test itself, so that two merchants' can carry the same notify_id.
  const simA = new AlipaySimulator()
  const simB = new AlipaySimulator()
  simA.sendNotifications = false
  simB.sendNotifications = false
  let other: NewMerchantCredentials
  const ctx = () => t.server.server.ctx
  const notifyUrl = (merchantId?: string) => `${t.server.url}/channels/alipay/notify${merchantId ? `/${merchantId}` : ''}`

  before(async () => {
    await simA.start()
    await simB.start()
    other = await t.server.newMerchant('Other Shop')
    for (const [merchantId, sim] of [[t.server.merchant.merchant_id, simA], [other.merchant_id, simB]] as const) {
      const set = await ctx().channelCredentials.set(merchantId, 'alipay', sim.credentialsDocument())
      assert.ok(set.ok, JSON.stringify(set))
    }
  })
  after(async () => {
    await simA.stop()
    await simB.stop()
  })

  async function openLive(merchant: NewMerchantCredentials, outTradeNo: string) {
    const res = await api(t.server.url, merchant.live.secret, 'POST', '/v1/orders', { out_trade_no: outTradeNo, amount: 1234, subject: 'Latte', channels: ['alipay'] })
    assert.equal(res.status, 201, JSON.stringify(res.body))
    const order = (await ctx().storage.orders.byId(merchant.merchant_id, 'live', res.body.id))!
    return { order, ...(await openChannelPayment(ctx(), order, 'alipay')) }
  }
  /** A trade_status_sync notification signed with the simulator's Alipay key, as Alipay signs one for that app. */
  const signed = (sim: AlipaySimulator, p: { notify_id: string; out_trade_no: string; trade_status: string; trade_no: string }) => {
    const params = { notify_type: 'trade_status_sync', app_id: sim.identity.appId, seller_id: sim.identity.sellerId, total_amount: '12.34', charset: 'utf-8', version: '1.0', ...p }
    return new URLSearchParams({ ...params, sign: rsa2Sign(notifySignContent(params), sim.identity.alipayKey), sign_type: 'RSA2' }).toString()
  }
  const post = async (url: string, body: string) =>
    (await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, body })).text()

  it('another merchant\'s notification under the same notify_id does not make this merchant\'s a duplicate; its own replays are', async () => {
    const shared = '2026112600222000000000000000000042'
    // The other merchant, holding only its own Alipay keys, gets a notification about its own attempt recorded
    // under the id this merchant's next notification will carry (believed, and ignored: the trade is unpaid).
    const theirs = await openLive(other, 'squat-1')
    const theirTrade = simB.scan(theirs.qrContent)
    assert.equal(await post(notifyUrl(other.merchant_id), signed(simB, { notify_id: shared, out_trade_no: theirs.paymentId, trade_status: 'WAIT_BUYER_PAY', trade_no: theirTrade.tradeNo! })), 'success')

    const mine = await openLive(t.server.merchant, 'mine-1')
    const trade = simA.pay(mine.qrContent, { notify: false })
    const genuine = signed(simA, { notify_id: shared, out_trade_no: mine.paymentId, trade_status: 'TRADE_SUCCESS', trade_no: trade.tradeNo! })
    assert.equal(await post(notifyUrl(t.server.merchant.merchant_id), genuine), 'success')
    // Paid by the notification itself, not left for the reconciler.
    assert.equal((await api(t.server.url, t.server.merchant.live.secret, 'GET', `/v1/orders/${mine.order.id}`)).body.status, 'paid')

    const db = ctx().storage.database.db
    const inbox = async () =>
      (await db.selectFrom('channel_notifications').select(['merchant_id', 'outcome']).where('notification_id', '=', shared).execute())
        .map((r) => `${r.merchant_id === t.server.merchant.merchant_id ? 'mine' : r.merchant_id === other.merchant_id ? 'theirs' : r.merchant_id} ${r.outcome}`)
        .sort()
    assert.deepEqual(await inbox(), ['mine paid', 'theirs ignored'])

    // The same notification again, at the merchant's URL or the merchant-less one (matched by app_id), is a
    // duplicate: nothing more is recorded, and the merchant was told of the payment once.
    assert.equal(await post(notifyUrl(t.server.merchant.merchant_id), genuine), 'success')
    assert.equal(await post(notifyUrl(), genuine), 'success')
    assert.deepEqual(await inbox(), ['mine paid', 'theirs ignored'])
    const paidEvents = await db.selectFrom('events').select('id').where('order_id', '=', mine.order.id).where('type', '=', 'order.paid').execute()
    assert.equal(paidEvents.length, 1)
    const metrics = await (await fetch(`${t.server.url}/metrics`)).text()
    assert.match(metrics, /^scanpay_channel_notifications_total\{channel="alipay",outcome="duplicate"\} 2$/m)
  })
})
