// Settling a refund through Storage.applyChanges on both databases: the refund's move, the order's and the
// event are written together or not at all, and the event carries the order exactly as the move left it, even
// when another refund of the same order moved it between the read and the write.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { describeEachStorage } from '../../../test/helpers/fresh-database.ts'
import { anOrder } from '../../../test/helpers/orders.ts'
import { newId } from '../ids.ts'
import type { Order } from '../order.ts'
import type { Refund } from '../refund.ts'
import type { RefundDeps } from './refund-deps.ts'
import { completeRefund, failRefund } from './settle-refund.ts'

describeEachStorage('settling a refund', (t) => {
  const deps = (tx: RefundDeps['tx'] = t.storage): RefundDeps => ({
    tx,
    clock: { now: () => Date.now() },
    present: (order) => ({ status: order.status, amount_refunded: order.amountRefunded }),
    presentRefund: (refund) => ({ id: refund.id, status: refund.status }),
    listener: { orderChanged: () => {}, eventsWritten: () => {} },
    payTokens: { issue: () => 'unused' },
    channel: () => undefined,
  })
  const paidOrder = async (outTradeNo: string): Promise<Order> => {
    const order = anOrder(outTradeNo, { status: 'paid', amount: 1000, channel: 'sandbox', channelTradeNo: `sbx_${outTradeNo}` })
    assert.equal(await t.storage.orders.insertIfAbsent(order), true)
    return order
  }
  const aRefund = (order: Order, amount: number): Refund => {
    const now = Date.now()
    return {
      id: newId('rfd', now),
      merchantId: order.merchantId,
      mode: order.mode,
      orderId: order.id,
      amount,
      currency: order.currency,
      status: 'pending',
      outRefundNo: `r-${newId('req', now)}`,
      reason: null,
      failureReason: null,
      channel: 'sandbox',
      channelRefundNo: null,
      requestHash: 'h',
      createdAt: now,
      succeededAt: null,
      failedAt: null,
      updatedAt: now,
      nextCheckAt: now,
      checkCount: 0,
    }
  }
  /** A pending refund, with its reservation on the order unless reserve is false. */
  const pending = async (order: Order, amount: number, reserve = true): Promise<Refund> => {
    const refund = aRefund(order, amount)
    const c = t.storage.changes
    const changes = reserve ? [c.insertRefund(refund), c.reserveRefund(order, amount, Date.now())] : [c.insertRefund(refund)]
    assert.equal(await t.storage.applyChanges(changes), null)
    return refund
  }
  const state = async (order: Order) => {
    const row = await t.database.db
      .selectFrom('orders')
      .select(['status', 'amount_refunded', 'amount_refund_reserved'])
      .where('id', '=', order.id)
      .executeTakeFirstOrThrow()
    const refunds = await t.database.db.selectFrom('refunds').select(['id', 'status']).where('order_id', '=', order.id).orderBy('id').execute()
    const events = (await t.storage.events.list({ merchantId: order.merchantId, mode: order.mode, orderId: order.id, limit: 10 }))
      .map((e) => ({ type: e.type, refunded: (e.data as { amount_refunded: number }).amount_refunded }))
      .sort((a, b) => a.refunded - b.refunded)
    return { order: { ...row, amount_refunded: Number(row.amount_refunded), amount_refund_reserved: Number(row.amount_refund_reserved) }, refunds, events }
  }

  it('moves a refund to succeeded and its order to partially_refunded with its event, once', async () => {
    const order = await paidOrder('sr-1')
    const refund = await pending(order, 300)
    const done = await completeRefund(deps(), refund, 'sbr_1')
    assert.equal(done.status, 'succeeded')
    const after = await state(order)
    assert.deepEqual(after.order, { status: 'partially_refunded', amount_refunded: 300, amount_refund_reserved: 300 })
    assert.deepEqual(after.events, [{ type: 'refund.succeeded', refunded: 300 }])
    // Settling it again changes nothing and answers the refund as it stands.
    assert.equal((await completeRefund(deps(), refund, 'sbr_1')).status, 'succeeded')
    assert.equal((await failRefund(deps(), refund, 'late')).status, 'succeeded')
    assert.deepEqual(await state(order), after)
  })

  it('refuses a refund its order has no reservation for, changing nothing', async () => {
    const order = await paidOrder('sr-2')
    const refund = await pending(order, 300, false)
    const before = await state(order)
    await assert.rejects(completeRefund(deps(), refund, 'sbr_2'), /not covered by its order's refund reservation/)
    await assert.rejects(failRefund(deps(), refund, 'no'), /no reservation on its order to release/)
    assert.deepEqual(await state(order), before)
  })

  it('gives a failed refund its reservation back, with refund.failed', async () => {
    const order = await paidOrder('sr-3')
    const refund = await pending(order, 400)
    assert.equal((await failRefund(deps(), refund, 'the channel said no')).status, 'failed')
    const after = await state(order)
    assert.deepEqual(after.order, { status: 'paid', amount_refunded: 0, amount_refund_reserved: 0 })
    assert.deepEqual(after.events, [{ type: 'refund.failed', refunded: 0 }])
  })

  it('reads the order again when another refund moved it between the read and the write', async () => {
    const order = await paidOrder('sr-4')
    const first = await pending(order, 100)
    const second = await pending(order, 250)
    // The first settlement's first unit is held back until the second refund has settled: its order's
    // amount_refunded is then no longer what it read, so its unit changes nothing and it reads the order again.
    let units = 0
    const storage = t.storage
    const racing: RefundDeps['tx'] = {
      transaction: (fn) => storage.transaction(fn),
      statement: (fn) => storage.statement(fn),
      insertOrder: (order, guard) => storage.insertOrder(order, guard),
      changes: storage.changes,
      applyChanges: async (changes) => {
        if (units++ === 0) await completeRefund(deps(), second, 'sbr_second')
        return storage.applyChanges(changes)
      },
    }
    await completeRefund(deps(racing), first, 'sbr_first')
    assert.equal(units, 2, 'one refused unit, then one made')
    const after = await state(order)
    assert.deepEqual(after.order, { status: 'partially_refunded', amount_refunded: 350, amount_refund_reserved: 350 })
    assert.deepEqual(after.events, [
      { type: 'refund.succeeded', refunded: 250 },
      { type: 'refund.succeeded', refunded: 350 },
    ])
    assert.deepEqual(after.refunds.map((r) => r.status), ['succeeded', 'succeeded'])
  })
})
