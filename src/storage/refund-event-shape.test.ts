import assert from 'node:assert/strict'
import { it } from 'node:test'
import { rowToEvent } from './event-store.ts'
import { refundEventInOrderShape } from './refund-event-shape.ts'

const order = { id: 'ord_1', object: 'order', status: 'partially_refunded', amount_refunded: 300 }
const refund = { id: 'rfd_1', object: 'refund', order_id: 'ord_1', amount: 300, status: 'succeeded' }

it('puts a refund event of the old shape in the contract\'s, and leaves any other data as it is', () => {
  assert.deepEqual(refundEventInOrderShape({ ...refund, order }), { ...order, refund })
  for (const data of [{ ...order, refund }, order, null, 'x']) assert.equal(refundEventInOrderShape(data), data)
})

it('reads a refund event an older node wrote in the old shape as the contract\'s', () => {
  const row = {
    merchant_id: 'mch_1', id: 'evt_1', mode: 'test', order_id: 'ord_1', type: 'refund.succeeded', data: JSON.stringify({ ...refund, order }),
    notify_url: null, created_at: 1, delivery_status: 'pending', attempt_count: 0, next_attempt_at: 1, locked_until: null, one_shot: 0,
  }
  assert.deepEqual(rowToEvent(row as never).data, { ...order, refund })
  // An order event whose order happens to say nothing of refunds is untouched.
  assert.deepEqual(rowToEvent({ ...row, type: 'order.paid', data: JSON.stringify(order) } as never).data, order)
})
