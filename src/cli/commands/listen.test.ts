// The listener's one line per webhook: an order event names its order, a refund event its refund and order.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { summarize } from './listen.ts'

it('summarizes order events by order and refund events by refund and order', () => {
  assert.equal(summarize({ id: 'evt_1', type: 'order.paid', data: { id: 'ord_1', status: 'paid' } }), 'order.paid evt_1 order=ord_1 status=paid')
  assert.equal(
    summarize({ id: 'evt_2', type: 'refund.succeeded', data: { id: 'rfd_1', status: 'succeeded', order: { id: 'ord_1', status: 'partially_refunded' } } }),
    'refund.succeeded evt_2 refund=rfd_1 status=succeeded order=ord_1 order_status=partially_refunded',
  )
})
