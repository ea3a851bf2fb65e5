// An unexpected payment's automatic refund, on both databases: the payment moves once, and the operator is told
// how it ended (refunded, or refused by the channel, which leaves the money to be given back by hand).
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { describeEachStorage } from '../../../test/helpers/fresh-database.ts'
import { anOrder } from '../../../test/helpers/orders.ts'
import { newId } from '../ids.ts'
import type { Order } from '../order.ts'
import { ChannelError, type ChannelRefundState, type PaymentChannel } from '../payment-channel.ts'
import type { Payment } from '../ports.ts'
import { refundUnexpected } from './apply-channel-payment-state.ts'
import type { ChannelPaymentDeps } from './channel-payment-deps.ts'

describeEachStorage('refunding an unexpected payment', (t) => {
  const ended: [string, string, string | null][] = []
  const deps = (): ChannelPaymentDeps => ({
    tx: t.storage,
    clock: { now: () => Date.now() },
    present: (order) => ({ status: order.status }),
    listener: { orderChanged: () => {}, eventsWritten: () => {} },
    payTokens: { issue: () => 'unused' },
    channel: () => undefined,
    notifyUrl: () => 'https://pay.example/notify',
    unexpectedRefundEnded: (outcome, payment, _order, reason) => void ended.push([outcome, payment.id, reason]),
  })
  const stored = async (id: string) => (await t.storage.statement((w) => w.payments.byId(id)))!
  const channelAnswering = (answer: () => Promise<ChannelRefundState>) => ({ refund: answer }) as unknown as PaymentChannel

  const unexpected = async (outTradeNo: string): Promise<{ order: Order; payment: Payment }> => {
    const order = anOrder(outTradeNo, { mode: 'live', status: 'closed' })
    assert.equal(await t.storage.orders.insertIfAbsent(order), true)
    const now = Date.now()
    const payment: Payment = {
      id: newId('pay', now), merchantId: order.merchantId, orderId: order.id, channel: 'wechatpay', status: 'refund_requested',
      amount: order.amount, currency: order.currency, channelTradeNo: `4200${now}`, unexpected: true, createdAt: now, updatedAt: now, nextCheckAt: now,
    }
    await t.storage.statement((w) => w.payments.insert(payment))
    return { order, payment }
  }

  it('refunded: the payment is refunded and the operator told once, though a notification and the reconciler both ask', async () => {
    const { order, payment } = await unexpected('ux-1')
    const channel = channelAnswering(async () => ({ status: 'succeeded', channelRefundNo: 'r1' }))
    ended.length = 0
    assert.equal(await refundUnexpected(deps(), channel, payment, order), 'refunded')
    assert.equal(await refundUnexpected(deps(), channel, payment, order), 'refunded')
    assert.equal((await stored(payment.id)).status, 'refunded')
    assert.deepEqual(ended, [['refunded', payment.id, null]])
  })

  it('refused by the channel, by its answer or by a definite error: no next check, and the operator told why', async () => {
    for (const [n, answer] of [
      [2, async (): Promise<ChannelRefundState> => ({ status: 'failed', reason: 'the trade has no balance left to refund' })],
      [3, async (): Promise<ChannelRefundState> => { throw new ChannelError('WeChat Pay refund failed: NOT_ENOUGH: 基本账户余额不足', false, false) }],
    ] as const) {
      const { order, payment } = await unexpected(`ux-${n}`)
      ended.length = 0
      assert.equal(await refundUnexpected(deps(), channelAnswering(answer), payment, order), 'flagged')
      const after = await stored(payment.id)
      assert.deepEqual([after.status, after.nextCheckAt], ['refund_requested', null])
      assert.equal(ended.length, 1)
      assert.deepEqual(ended[0]!.slice(0, 2), ['refused', payment.id])
      assert.match(ended[0]![2]!, /no balance left|NOT_ENOUGH/)
    }
  })

  it('an outcome not known yet (the channel may have acted) tells nobody: the reconciler asks again', async () => {
    const { order, payment } = await unexpected('ux-4')
    ended.length = 0
    const unknown = channelAnswering(async () => { throw new ChannelError('timeout', true, true) })
    assert.equal(await refundUnexpected(deps(), unknown, payment, order), 'pending')
    assert.equal(await refundUnexpected(deps(), channelAnswering(async () => ({ status: 'pending' })), payment, order), 'pending')
    assert.deepEqual(ended, [])
    assert.equal((await stored(payment.id)).status, 'refund_requested')
  })
})
