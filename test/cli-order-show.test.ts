// scanpay order show, on both databases: a live WeChat Pay order paid through the simulator and refunded in part,
// found by its id, by its payment's id (the number a customer's WeChat receipt shows), by a refund's and by out_trade_no.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { openChannelPayment } from '../src/channels/open-channel-payment.ts'
import { WechatPaySimulator } from '../src/channels/wechat-pay/simulator.ts'
import { orderShowCommand, type OrderShowOptions } from '../src/cli/commands/order-show.ts'
import { withChannelSimulator } from './helpers/channel-simulator.ts'
import { describeEachDatabase } from './helpers/each-database.ts'
import { api } from './helpers/server.ts'
import { eventually, WebhookReceiver } from './helpers/webhook-receiver.ts'

describeEachDatabase('scanpay order show', (t) => {
  const sim = new WechatPaySimulator({ retryScale: 0.002, refundDelayMs: 0 })
  const receiver = new WebhookReceiver()
  const ctx = () => t.server.server.ctx
  const live = () => t.server.merchant.live.secret
  const printed: { line: string; error: boolean }[] = []
  const show = async (opts: Omit<OrderShowOptions, 'action' | 'json'> & { json?: boolean }) => {
    printed.length = 0
    const code = await orderShowCommand(ctx(), { action: 'show', json: false, ...opts }, (line, error) => printed.push({ line, error: error ?? false }))
    return { code, out: printed.filter((p) => !p.error).map((p) => p.line), err: printed.filter((p) => p.error).map((p) => p.line) }
  }

  withChannelSimulator(t, 'wechatpay', sim, receiver)

  it('shows the order, its channel attempts, refunds and events with their webhooks, however it is looked up', async () => {
    const created = await api(t.server.url, live(), 'POST', '/v1/orders', { out_trade_no: 'SHOW-1', amount: 1234, subject: 'Latte', notify_url: receiver.url, channels: ['wechatpay'] })
    assert.equal(created.status, 201)
    const order = (await ctx().storage.orders.byId(t.server.merchant.merchant_id, 'live', created.body.id))!
    const opened = await openChannelPayment(ctx(), order, 'wechatpay')
    sim.pay(opened.qrContent)
    await eventually(async () => receiver.received.find((w) => JSON.parse(w.body).type === 'order.paid' && JSON.parse(w.body).data.id === order.id), 10_000, 'order.paid delivered')
    const refund = await api(t.server.url, live(), 'POST', `/v1/orders/${order.id}/refunds`, { amount: 234, out_refund_no: 'R-SHOW-1' })
    assert.equal(refund.status, 201, JSON.stringify(refund.body))
    await eventually(async () => receiver.received.find((w) => JSON.parse(w.body).type === 'refund.succeeded' && JSON.parse(w.body).data.refund.id === refund.body.id), 10_000, 'refund.succeeded delivered')
    const trade = (await api(t.server.url, live(), 'GET', `/v1/orders/${order.id}`)).body.channel_trade_no as string

    const byId = await show({ id: order.id })
    assert.equal(byId.code, 0)
    assert.deepEqual(byId.err, [])
    const text = byId.out.join('\n')
    assert.match(byId.out[0]!, new RegExp(`^${order.id} live order "SHOW-1" of ${t.server.merchant.merchant_id} \\(Test Shop\\): partially_refunded, 12\\.34 CNY, 2\\.34 CNY refunded$`))
    assert.match(text, new RegExp(`paid \\S+ through wechatpay \\(${trade}\\)`))
    assert.ok(byId.out.includes(`  webhooks to ${receiver.url}`), text)
    assert.match(text, new RegExp(`^  ${opened.paymentId} wechatpay succeeded, 12\\.34 CNY, trade ${trade}, opened `, 'm'))
    assert.match(text, new RegExp(`^  ${refund.body.id} "R-SHOW-1" succeeded, 2\\.34 CNY, asked \\S+, succeeded \\S+$`, 'm'))
    assert.match(text, /^  evt_\S+ order\.paid at \S+: delivered, 1 attempt, last \S+: 200$/m)
    assert.match(text, /^  evt_\S+ refund\.succeeded at \S+: delivered, 1 attempt, last \S+: 200$/m)
    // Events oldest first, as they happened.
    assert.ok(text.indexOf('order.paid') < text.indexOf('refund.succeeded'))

    // By the payment's id (WeChat Pay's out_trade_no), a refund's, and the merchant's number: the same order.
    assert.deepEqual((await show({ id: opened.paymentId })).out, byId.out)
    assert.deepEqual((await show({ id: refund.body.id })).out, byId.out)
    assert.deepEqual((await show({ merchant: t.server.merchant.merchant_id, outTradeNo: 'SHOW-1' })).out, byId.out)

    // As JSON, in the API's shapes, with the attempts the API does not show.
    const json = JSON.parse((await show({ id: order.id, json: true })).out[0]!)
    assert.deepEqual([json.order.id, json.order.status, json.order.amount_refunded, json.order.merchant_id, json.order.merchant_name], [order.id, 'partially_refunded', 234, t.server.merchant.merchant_id, 'Test Shop'])
    assert.deepEqual(json.payments.map((p: { id: string; status: string; channel_trade_no: string }) => [p.id, p.status, p.channel_trade_no]), [[opened.paymentId, 'succeeded', trade]])
    assert.deepEqual(json.refunds.map((r: { id: string; status: string }) => [r.id, r.status]), [[refund.body.id, 'succeeded']])
    assert.deepEqual(json.events.map((e: { type: string; delivery_status: string; attempts: unknown[] }) => [e.type, e.delivery_status, e.attempts.length]), [['order.paid', 'delivered', 1], ['refund.succeeded', 'delivered', 1]])
    assert.equal(json.has_more, false)
  })

  it('a test order found by out_trade_no when no live one has it; an order not paid yet has no attempts', async () => {
    const created = await api(t.server.url, t.server.merchant.test.secret, 'POST', '/v1/orders', { out_trade_no: 'SHOW-2', amount: 500, subject: 'Tea' })
    const { out, code } = await show({ merchant: t.server.merchant.merchant_id, outTradeNo: 'SHOW-2' })
    assert.equal(code, 0)
    assert.match(out[0]!, new RegExp(`^${created.body.id} test order "SHOW-2" .*: pending, 5\\.00 CNY$`))
    assert.deepEqual(out.slice(-4), ["  webhooks to none: the order has no notify_url and the merchant no default, so its events wait", 'no channel attempts', 'no refunds', 'no events'])
    // Once the merchant has a default, it is where they go.
    await ctx().storage.merchants.update(t.server.merchant.merchant_id, { webhookUrl: 'https://shop.example/hooks' })
    assert.ok((await show({ id: created.body.id })).out.includes("  webhooks to https://shop.example/hooks (the merchant's default)"))
    await ctx().storage.merchants.update(t.server.merchant.merchant_id, { webhookUrl: null })
  })

  it('says what it could not find, and changes nothing', async () => {
    assert.deepEqual(await show({ id: 'ord_nothing' }), { code: 1, out: [], err: ['no order ord_nothing'] })
    assert.deepEqual(await show({ id: 'pay_nothing' }), { code: 1, out: [], err: ['no payment pay_nothing'] })
    assert.deepEqual(await show({ id: 'rfd_nothing' }), { code: 1, out: [], err: ["no refund rfd_nothing (an unexpected payment's refund_id is not one: look its payment up)"] })
    assert.deepEqual(await show({ id: 'A-1001' }), { code: 2, out: [], err: ['A-1001 is not an order id (ord_…), a payment id (pay_…) or a refund id (rfd_…)'] })
    assert.deepEqual(await show({ merchant: 'mch_nobody', outTradeNo: 'X' }), { code: 2, out: [], err: ['no merchant mch_nobody'] })
    assert.deepEqual(await show({ merchant: t.server.merchant.merchant_id, outTradeNo: 'NONE' }), { code: 1, out: [], err: [`merchant ${t.server.merchant.merchant_id} has no order "NONE"`] })
    // An id and a merchant's number at once, or neither: the usage.
    for (const opts of [{ id: 'ord_x', merchant: 'mch_x', outTradeNo: 'X' }, {}, { merchant: 'mch_x' }]) {
      const r = await show(opts)
      assert.equal(r.code, 2)
      assert.match(r.err[0]!, /scanpay order show ord_…\|pay_…\|rfd_…/)
    }
  })
})
