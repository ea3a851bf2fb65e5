// A channel's refund notification on both databases: it settles the merchant's pending refund once (with its event),
// marks an unexpected payment's refund done, and changes nothing when it is about another merchant's refund, another
// channel's, another amount, or a refund already settled.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { describeEachStorage } from '../../../test/helpers/fresh-database.ts'
import { anOrder } from '../../../test/helpers/orders.ts'
import { newId } from '../ids.ts'
import type { Order } from '../order.ts'
import type { Payment } from '../ports.ts'
import type { Refund } from '../refund.ts'
import { applyChannelRefundState, type ChannelRefundNotice } from './apply-channel-refund-state.ts'
import { unexpectedRefundId, type ChannelPaymentDeps } from './channel-payment-deps.ts'
import type { RefundDeps } from './refund-deps.ts'

describeEachStorage('a channel refund notification', (t) => {
  const common = () => ({
    tx: t.storage,
    clock: { now: () => Date.now() },
    present: (order: Order) => ({ status: order.status, amount_refunded: order.amountRefunded }),
    listener: { orderChanged: () => {}, eventsWritten: () => {} },
    payTokens: { issue: () => 'unused' },
    channel: () => undefined,
  })
  const ended: string[] = []
  const deps = () => ({
    refunds: { ...common(), presentRefund: (r: Refund) => ({ id: r.id, status: r.status }) } satisfies RefundDeps,
    payments: { ...common(), notifyUrl: () => 'unused', unexpectedRefundEnded: (outcome) => void ended.push(outcome) } satisfies ChannelPaymentDeps,
  })
  const paidOrder = async (outTradeNo: string): Promise<Order> => {
    const order = anOrder(outTradeNo, { mode: 'live', status: 'paid', amount: 1000, channel: 'wechatpay', channels: ['wechatpay'], channelTradeNo: `4200${outTradeNo}` })
    assert.equal(await t.storage.orders.insertIfAbsent(order), true)
    return order
  }
  /** A pending refund of `amount` through WeChat Pay, with its reservation on the order. */
  const pendingRefund = async (order: Order, amount: number): Promise<Refund> => {
    const now = Date.now()
    const refund: Refund = {
      id: newId('rfd', now), merchantId: order.merchantId, mode: 'live', orderId: order.id, amount, currency: 'CNY', status: 'pending',
      outRefundNo: `r-${newId('req', now)}`, reason: null, failureReason: null, channel: 'wechatpay', channelRefundNo: null, requestHash: 'h',
      createdAt: now, succeededAt: null, failedAt: null, updatedAt: now, nextCheckAt: now + 60_000, checkCount: 0,
    }
    assert.equal(await t.storage.applyChanges([t.storage.changes.insertRefund(refund), t.storage.changes.reserveRefund(order, amount, now)]), null)
    tradeNoOf.set(refund.id, order.channelTradeNo!)
    return refund
  }
  /** What WeChat says of the refund (of the order paid as paidOrder pays it, unless told otherwise). */
  const notice = (refund: { id: string; merchantId: string; amount: number; channelTradeNo?: string }, state: ChannelRefundNotice['state'], over: Partial<ChannelRefundNotice> = {}): ChannelRefundNotice => ({
    channel: 'wechatpay', merchantId: refund.merchantId, refundId: refund.id, amount: refund.amount, channelTradeNo: refund.channelTradeNo ?? tradeNoOf.get(refund.id)!, state, ...over,
  })
  const tradeNoOf = new Map<string, string>()
  const eventsOf = async (order: Order) => (await t.storage.events.list({ merchantId: order.merchantId, mode: 'live', limit: 100 })).filter((e) => e.orderId === order.id).map((e) => e.type)
  const stored = (r: Refund) => t.storage.refunds.byId(r.merchantId, 'live', r.id)
  /** The order's status and amount refunded as stored now. */
  const standing = async (order: Order) => {
    const o = await t.storage.orders.byId(order.merchantId, 'live', order.id)
    return [o?.status, o?.amountRefunded]
  }

  it('a success settles the pending refund once: the order is refunded and refund.succeeded is written once', async () => {
    const order = await paidOrder('N-1')
    const refund = await pendingRefund(order, 1000)
    const success = notice(refund, { status: 'succeeded', channelRefundNo: '50300000001' })
    assert.equal(await applyChannelRefundState(deps(), success), 'refund_succeeded')
    assert.equal(await applyChannelRefundState(deps(), success), 'duplicate')
    assert.equal(await applyChannelRefundState(deps(), notice(refund, { status: 'pending', attention: 'ABNORMAL' })), 'duplicate', 'a late retry of older news')
    const after = await stored(refund)
    assert.equal(after?.status, 'succeeded')
    assert.equal(after?.channelRefundNo, '50300000001')
    assert.deepEqual(await standing(order), ['refunded', 1000])
    assert.deepEqual(await eventsOf(order), ['refund.succeeded'])
  })

  it('a closed refund fails it and frees its amount; a success told afterwards changes nothing and is a conflict', async () => {
    const order = await paidOrder('N-2')
    const refund = await pendingRefund(order, 400)
    assert.equal(await applyChannelRefundState(deps(), notice(refund, { status: 'failed', reason: 'WeChat Pay closed the refund' })), 'refund_failed')
    assert.equal(await applyChannelRefundState(deps(), notice(refund, { status: 'failed', reason: 'WeChat Pay closed the refund' })), 'duplicate')
    assert.equal(await applyChannelRefundState(deps(), notice(refund, { status: 'succeeded', channelRefundNo: '503' })), 'conflict')
    assert.equal((await stored(refund))?.status, 'failed')
    assert.deepEqual(await standing(order), ['paid', 0])
    assert.deepEqual(await eventsOf(order), ['refund.failed'])
  })

  it('changes nothing for a refund still processing, another amount, another channel, another merchant or an unknown id', async () => {
    const order = await paidOrder('N-3')
    const refund = await pendingRefund(order, 300)
    const success = { status: 'succeeded', channelRefundNo: '503' } as const
    assert.equal(await applyChannelRefundState(deps(), notice(refund, { status: 'pending' })), 'ignored')
    assert.equal(await applyChannelRefundState(deps(), notice(refund, { status: 'pending', attention: 'ABNORMAL' })), 'stuck')
    assert.equal(await applyChannelRefundState(deps(), notice(refund, success, { amount: 301 })), 'amount_mismatch')
    assert.equal(await applyChannelRefundState(deps(), notice(refund, success, { channelTradeNo: '4200another' })), 'trade_mismatch')
    assert.equal(await applyChannelRefundState(deps(), notice(refund, success, { channel: 'alipay' })), 'unknown_refund')
    assert.equal(await applyChannelRefundState(deps(), notice(refund, success, { merchantId: 'mch_someone_else' })), 'unknown_refund')
    assert.equal(await applyChannelRefundState(deps(), notice(refund, success, { refundId: newId('rfd', Date.now()) })), 'unknown_refund')
    assert.equal((await stored(refund))?.status, 'pending')
    assert.deepEqual(await eventsOf(order), [])
  })

  it("an unexpected payment's refund is marked done by its success, once; its failure is left to the reconciler", async () => {
    const order = await paidOrder('N-4')
    const now = Date.now()
    const payment: Payment = { id: newId('pay', now), merchantId: order.merchantId, orderId: order.id, channel: 'wechatpay', status: 'refund_requested', amount: 1000, currency: 'CNY', channelTradeNo: '4200late', unexpected: true, createdAt: now, updatedAt: now, nextCheckAt: now + 60_000 }
    await t.storage.statement((w) => w.payments.insert(payment))
    const ref = { id: unexpectedRefundId(payment.id), merchantId: order.merchantId, amount: 1000, channelTradeNo: '4200late' }
    const success = { status: 'succeeded', channelRefundNo: '503' } as const
    assert.equal(await applyChannelRefundState(deps(), notice(ref, { status: 'failed', reason: 'closed' })), 'ignored')
    ended.length = 0
    assert.equal(await applyChannelRefundState(deps(), notice(ref, { status: 'pending', attention: 'ABNORMAL' })), 'stuck')
    // Stuck at the channel: it waits for a person (no next check), who is told, as for a refused refund.
    const flagged = await t.storage.statement((w) => w.payments.byId(payment.id))
    assert.deepEqual([flagged?.status, flagged?.nextCheckAt], ['refund_requested', null])
    assert.deepEqual(ended, ['refused'])
    assert.equal(await applyChannelRefundState(deps(), notice(ref, success, { amount: 999 })), 'amount_mismatch')
    assert.equal(await applyChannelRefundState(deps(), notice(ref, success, { channelTradeNo: `4200${order.outTradeNo}` })), 'trade_mismatch')
    // Another merchant's verified notification naming this refund id (its own refund, numbered so), or another
    // channel's, must not mark this customer's money as given back.
    assert.equal(await applyChannelRefundState(deps(), notice(ref, success, { merchantId: 'mch_someone_else' })), 'unknown_refund')
    assert.equal(await applyChannelRefundState(deps(), notice(ref, success, { channel: 'alipay' })), 'unknown_refund')
    assert.equal((await t.storage.statement((w) => w.payments.byId(payment.id)))?.status, 'refund_requested')
    ended.length = 0
    assert.equal(await applyChannelRefundState(deps(), notice(ref, { status: 'succeeded', channelRefundNo: '503' })), 'refund_succeeded')
    assert.equal(await applyChannelRefundState(deps(), notice(ref, { status: 'succeeded', channelRefundNo: '503' })), 'duplicate')
    assert.equal((await t.storage.statement((w) => w.payments.byId(payment.id)))?.status, 'refunded')
    assert.deepEqual(ended, ['refunded'])
    assert.equal(await applyChannelRefundState(deps(), notice(ref, { status: 'failed', reason: 'closed' })), 'conflict')
    assert.equal(await applyChannelRefundState(deps(), notice(ref, { status: 'pending', attention: 'ABNORMAL' })), 'duplicate')
  })
})
