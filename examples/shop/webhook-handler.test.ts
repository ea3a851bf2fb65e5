// The shop's webhook handling with really signed webhooks: verified, applied once per webhook-id, and
// correct whatever order the events arrive in.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { it } from 'node:test'
import { signWebhook, type Order, type Refund } from './scanpay.ts'
import { newShopOrder, refundable } from './shop-orders.ts'
import { ShopStore } from './shop-store.ts'
import { handleWebhook } from './webhook-handler.ts'

const SECRET = 'whsec_' + randomBytes(32).toString('base64')
let seq = 0

function scanpayOrder(over: Partial<Order> = {}): Order {
  return {
    id: 'ord_1', object: 'order', mode: 'test', status: 'pending', out_trade_no: 'S-1', amount: 1234, amount_refunded: 0,
    currency: 'CNY', subject: 'ScanPay Mug', description: null, metadata: {}, pay_url: 'http://x/pay/t',
    qr_code: { content: 'http://x/pay/t', svg_url: 'http://x/pay/t/qr.svg', png_url: 'http://x/pay/t/qr.png' },
    channel: null, channel_trade_no: null, notify_url: null, return_url: null, created_at: '2026-11-26T10:00:00.000Z',
    expires_at: '2026-11-26T10:15:00.000Z', paid_at: null, closed_at: null, ...over,
  }
}

const paidOrder = (over: Partial<Order> = {}) =>
  scanpayOrder({ status: 'paid', channel: 'sandbox', channel_trade_no: 'sbx_1', paid_at: '2026-11-26T10:01:00.000Z', ...over })

function refund(id: string, amount: number, status: Refund['status'] = 'succeeded'): Refund {
  return {
    id, object: 'refund', order_id: 'ord_1', amount, currency: 'CNY', status, out_refund_no: `S-1-${id}`, reason: null,
    failure_reason: status === 'failed' ? 'declined' : null, created_at: '2026-11-26T10:02:00.000Z',
    succeeded_at: status === 'succeeded' ? '2026-11-26T10:02:01.000Z' : null,
  }
}

/** A webhook exactly as ScanPay would send it. */
function webhook(type: string, data: unknown, id = `evt_${++seq}`) {
  const body = JSON.stringify({ id, type, timestamp: new Date().toISOString(), data })
  const ts = Math.floor(Date.now() / 1000)
  return { body: Buffer.from(body), headers: { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': signWebhook(SECRET, id, ts, body) } }
}

function shop() {
  const store = new ShopStore()
  store.put({ ...newShopOrder('S-1', 'ScanPay Mug', 1234, 'CNY', new Date()), scanpayOrderId: 'ord_1' })
  const deliver = (w: ReturnType<typeof webhook>) => handleWebhook(store, SECRET, w.body, w.headers)
  return { store, deliver, order: () => store.get('S-1')! }
}

it('marks the order paid exactly once, however often order.paid is delivered', () => {
  const { deliver, order } = shop()
  const paid = webhook('order.paid', paidOrder())
  assert.deepEqual(deliver(paid), { status: 200, body: 'ok' })
  assert.deepEqual(deliver(paid), { status: 200, body: 'ok: already handled' })
  // A redelivery under a new id (as a second event would be) still cannot fulfil twice.
  assert.equal(deliver(webhook('order.paid', paidOrder())).status, 200)
  assert.equal(order().status, 'paid')
  assert.equal(order().fulfilments, 1)
  assert.equal(order().paidVia, 'webhook')
  assert.equal(order().paidAt, '2026-11-26T10:01:00.000Z')
})

it('tolerates reordering: a refund event before order.paid, and refunds out of order', () => {
  const { deliver, order } = shop()
  const r1 = refund('rfd_1', 234)
  const r2 = refund('rfd_2', 1000)
  // The second refund's event overtakes everything.
  deliver(webhook('refund.succeeded', { ...paidOrder({ status: 'refunded', amount_refunded: 1234 }), refund: r2 }))
  assert.equal(order().status, 'refunded')
  assert.equal(order().fulfilments, 1, 'the refund event proved it was paid')
  deliver(webhook('refund.succeeded', { ...paidOrder({ status: 'partially_refunded', amount_refunded: 234 }), refund: r1 }))
  deliver(webhook('order.paid', paidOrder()))
  assert.equal(order().status, 'refunded', 'older news never moves the status back')
  assert.equal(order().amountRefunded, 1234)
  assert.equal(order().fulfilments, 1)
  assert.equal(refundable(order()), 0)
})

it('keeps a failed refund failed and the money refundable again', () => {
  const { deliver, order } = shop()
  deliver(webhook('order.paid', paidOrder()))
  deliver(webhook('refund.failed', { ...paidOrder(), refund: refund('rfd_f', 1234, 'failed') }))
  assert.equal(order().status, 'paid')
  assert.equal(order().refunds.rfd_f!.status, 'failed')
  assert.equal(refundable(order()), 1234)
})

it('expires or closes only an order still waiting, and ignores orders of another shop', () => {
  const { deliver, order, store } = shop()
  deliver(webhook('order.expired', scanpayOrder({ status: 'expired' })))
  assert.equal(order().status, 'expired')
  const other = deliver(webhook('order.paid', paidOrder({ out_trade_no: 'NOT-OURS' })))
  assert.equal(other.status, 200)
  assert.match(other.body, /ignored/)
  assert.equal(store.hasHandledWebhook('evt_x'), false)
})

it('refuses what does not verify, with the reason, and changes nothing', () => {
  const { store, order } = shop()
  const w = webhook('order.paid', paidOrder())
  const pretty = Buffer.from(JSON.stringify(JSON.parse(w.body.toString()), null, 2))
  const answer = handleWebhook(store, SECRET, pretty, w.headers)
  assert.equal(answer.status, 400)
  assert.match(answer.body, /re-serialized/)
  const forged = handleWebhook(store, 'whsec_' + randomBytes(32).toString('base64'), w.body, w.headers)
  assert.equal(forged.status, 400)
  assert.equal(order().status, 'awaiting_payment')
  assert.equal(store.hasHandledWebhook(w.headers['webhook-id']), false)
})

it('ignores a verified event for another ScanPay order with its order number: a test order made with the test key', () => {
  const { deliver, order } = shop()
  // Test and live share the webhook secret, and out_trade_no is unique per mode only.
  const other = webhook('order.paid', paidOrder({ id: 'ord_other', amount: 1 }))
  assert.deepEqual(deliver(other), { status: 200, body: 'ignored: not an order of this shop' })
  assert.deepEqual(deliver(webhook('refund.succeeded', { ...paidOrder({ id: 'ord_other', amount_refunded: 1 }), refund: { ...refund('re_1', 1), order_id: 'ord_other' } })), { status: 200, body: 'ignored: not an order of this shop' })
  assert.equal(order().status, 'awaiting_payment')
  assert.equal(order().fulfilments, 0)
  assert.equal(deliver(webhook('order.paid', paidOrder())).body, 'ok')
  assert.equal(order().fulfilments, 1)
})
