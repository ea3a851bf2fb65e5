// A payment success through Storage.applyChanges on both databases: the order, its payment and its order.paid
// event are written together or not at all, and a refused move leaves nothing behind.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { describeEachStorage } from '../../../test/helpers/fresh-database.ts'
import { anOrder } from '../../../test/helpers/orders.ts'
import type { Order } from '../order.ts'
import type { Payment } from '../ports.ts'
import type { UseCaseDeps } from './context.ts'
import { recordPaymentSuccess } from './record-payment-success.ts'

describeEachStorage('recordPaymentSuccess', (t) => {
  const told: string[] = []
  const deps = (): UseCaseDeps => ({
    tx: t.storage,
    clock: { now: () => Date.now() },
    present: (order) => ({ id: order.id, status: order.status }),
    listener: { orderChanged: (order) => told.push(order.id), eventsWritten: () => {} },
    payTokens: { issue: () => 'unused' },
  })
  const rows = async (order: Order) => ({
    status: (await t.storage.orders.byId(order.merchantId, order.mode, order.id))?.status,
    payments: await t.database.db.selectFrom('payments').select(['id', 'status']).where('order_id', '=', order.id).execute(),
    events: (await t.storage.events.list({ merchantId: order.merchantId, mode: order.mode, orderId: order.id, limit: 10 })).map((e) => e.type),
  })
  const insert = async (order: Order) => assert.equal(await t.storage.orders.insertIfAbsent(order), true)
  const attempt = (order: Order, status: Payment['status']): Payment => ({
    id: `pay_attempt_${order.outTradeNo}`,
    merchantId: order.merchantId,
    orderId: order.id,
    channel: 'wechatpay',
    status,
    amount: order.amount,
    currency: order.currency,
    channelTradeNo: null,
    unexpected: false,
    createdAt: order.createdAt,
    updatedAt: order.createdAt,
  })

  it('moves a pending order to paid with a new payment and its event, once', async () => {
    const order = anOrder('rps-1')
    await insert(order)
    const success = { order, channel: 'sandbox' as const, channelTradeNo: 'sbx_1', amount: order.amount, currency: order.currency }
    const first = await recordPaymentSuccess(deps(), success)
    assert.equal(first.result, 'paid')
    assert.deepEqual(told, [order.id])
    const after = await rows(order)
    assert.equal(after.status, 'paid')
    assert.deepEqual(after.payments.map((p) => p.status), ['succeeded'])
    assert.deepEqual(after.events, ['order.paid'])
    // The same success again changes nothing; another payment for the paid order is refused.
    assert.equal((await recordPaymentSuccess(deps(), success)).result, 'already_applied')
    assert.equal((await recordPaymentSuccess(deps(), { ...success, channelTradeNo: 'sbx_2' })).result, 'not_pending')
    assert.deepEqual(await rows(order), after)
  })

  it('moves the channel attempt opened earlier to succeeded instead of adding a second payment', async () => {
    const order = anOrder('rps-2')
    await insert(order)
    await t.storage.transaction((w) => w.payments.insert(attempt(order, 'failed')))
    const outcome = await recordPaymentSuccess(deps(), { order, channel: 'wechatpay', channelTradeNo: '4200001', amount: order.amount, currency: order.currency, paymentId: `pay_attempt_rps-2` })
    assert.equal(outcome.result, 'paid')
    const after = await rows(order)
    assert.deepEqual(after.payments, [{ id: 'pay_attempt_rps-2', status: 'succeeded' }])
    assert.deepEqual(after.events, ['order.paid'])
  })

  it('writes nothing when the attempt cannot become this success, the order included', async () => {
    const order = anOrder('rps-3')
    await insert(order)
    await t.storage.transaction((w) => w.payments.insert(attempt(order, 'refunded')))
    await assert.rejects(
      recordPaymentSuccess(deps(), { order, channel: 'wechatpay', channelTradeNo: '4200002', amount: order.amount, currency: order.currency, paymentId: 'pay_attempt_rps-3' }),
      /cannot become this success/,
    )
    assert.deepEqual(await rows(order), { status: 'pending', payments: [{ id: 'pay_attempt_rps-3', status: 'refunded' }], events: [] })
  })

  it('refuses an expired order and writes nothing', async () => {
    const order = anOrder('rps-4', { expiresAt: Date.now() - 1 })
    await insert(order)
    const outcome = await recordPaymentSuccess(deps(), { order, channel: 'sandbox', channelTradeNo: 'sbx_4', amount: order.amount, currency: order.currency })
    assert.equal(outcome.result, 'not_pending')
    assert.deepEqual(await rows(order), { status: 'pending', payments: [], events: [] })
  })
})
