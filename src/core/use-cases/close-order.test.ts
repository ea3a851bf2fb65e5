// Closing and expiring through Storage.applyChanges on both databases: the move and its event together, and
// the open channel attempts made due, which may be none.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { describeEachStorage } from '../../../test/helpers/fresh-database.ts'
import { anOrder } from '../../../test/helpers/orders.ts'
import type { Order } from '../order.ts'
import { closeOrder } from './close-order.ts'
import type { UseCaseDeps } from './context.ts'
import { expireOrder } from './expire-orders.ts'

describeEachStorage('closeOrder and expireOrder', (t) => {
  const now = Date.now()
  const deps = (): UseCaseDeps => ({
    tx: t.storage,
    clock: { now: () => now },
    present: (order) => ({ id: order.id, status: order.status }),
    listener: { orderChanged: () => {}, eventsWritten: () => {} },
    payTokens: { issue: () => 'unused' },
  })
  const state = async (order: Order) => ({
    status: (await t.storage.orders.byId(order.merchantId, order.mode, order.id))?.status,
    events: (await t.storage.events.list({ merchantId: order.merchantId, mode: order.mode, orderId: order.id, limit: 10 })).map((e) => e.type),
  })
  const insert = async (order: Order) => assert.equal(await t.storage.orders.insertIfAbsent(order), true)

  it('closes a pending order with its event, and makes its open channel attempt due for a check now', async () => {
    const order = anOrder('co-1')
    await insert(order)
    await t.storage.transaction((w) =>
      w.payments.insert({ id: 'pay_co_1', merchantId: order.merchantId, orderId: order.id, channel: 'alipay', status: 'pending', amount: order.amount, currency: order.currency, channelTradeNo: null, unexpected: false, createdAt: now, updatedAt: now }),
    )
    assert.equal((await closeOrder(deps(), order)).status, 'closed')
    assert.deepEqual(await state(order), { status: 'closed', events: ['order.closed'] })
    const attempt = await t.database.db.selectFrom('payments').select('next_check_at').where('id', '=', 'pay_co_1').executeTakeFirstOrThrow()
    assert.equal(Number(attempt.next_check_at), now)
  })

  it('closes an order that has no channel attempt, and answers a second close with the closed order', async () => {
    const order = anOrder('co-2')
    await insert(order)
    assert.equal((await closeOrder(deps(), order)).status, 'closed')
    assert.equal((await closeOrder(deps(), order)).status, 'closed')
    assert.deepEqual(await state(order), { status: 'closed', events: ['order.closed'] })
  })

  it('expires a due order once; a closed one is neither closed again nor expired', async () => {
    const due = anOrder('co-3', { expiresAt: now - 1 })
    await insert(due)
    assert.equal((await expireOrder(deps(), due)).status, 'expired')
    assert.equal((await expireOrder(deps(), due)).status, 'expired')
    await assert.rejects(closeOrder(deps(), due), /expired and cannot be closed/)
    assert.deepEqual(await state(due), { status: 'expired', events: ['order.expired'] })
  })
})
