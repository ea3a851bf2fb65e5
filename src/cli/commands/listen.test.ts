// The listener's one line per webhook: every event names its order, a refund event its refund too.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { summarize } from './listen.ts'

it('summarizes every event by its order, and a refund event by its refund too', () => {
  assert.equal(summarize({ id: 'evt_1', type: 'order.paid', data: { id: 'ord_1', status: 'paid' } }), 'order.paid evt_1 order=ord_1 status=paid')
  assert.equal(
    summarize({ id: 'evt_2', type: 'refund.succeeded', data: { id: 'ord_1', status: 'partially_refunded', refund: { id: 'rfd_1', status: 'succeeded' } } }),
    'refund.succeeded evt_2 order=ord_1 status=partially_refunded refund=rfd_1 refund_status=succeeded',
  )
})
