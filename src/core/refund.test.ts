// The refund's moves, its request fingerprint and the reconciliation schedule.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { canMoveRefund, isRefundable, nextRefundCheckDelay, refundRequestHash } from './refund.ts'

it('allows only pending → succeeded | failed', () => {
  assert.ok(canMoveRefund('pending', 'succeeded'))
  assert.ok(canMoveRefund('pending', 'failed'))
  for (const from of ['succeeded', 'failed'] as const) {
    for (const to of ['pending', 'succeeded', 'failed'] as const) assert.ok(!canMoveRefund(from, to), `${from} → ${to}`)
  }
  assert.ok(!canMoveRefund('pending', 'pending'))
})

it('refunds only paid and partially refunded orders', () => {
  assert.ok(isRefundable('paid'))
  assert.ok(isRefundable('partially_refunded'))
  for (const s of ['pending', 'expired', 'closed', 'refunded'] as const) assert.ok(!isRefundable(s), s)
})

it('fingerprints every defining parameter, treating a missing reason as null', () => {
  const base = { orderId: 'ord_1', amount: 100, outRefundNo: 'R-1', reason: null }
  const h = refundRequestHash(base)
  assert.equal(refundRequestHash({ ...base }), h)
  assert.notEqual(refundRequestHash({ ...base, orderId: 'ord_2' }), h)
  assert.notEqual(refundRequestHash({ ...base, amount: 101 }), h)
  assert.notEqual(refundRequestHash({ ...base, outRefundNo: 'R-2' }), h)
  assert.notEqual(refundRequestHash({ ...base, reason: '' }), h)
})

it('asks the channel again after 1, 2, 5, 10, 30 minutes, then hourly', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 50].map((n) => nextRefundCheckDelay(n) / 60_000), [1, 2, 5, 10, 30, 60, 60])
})
