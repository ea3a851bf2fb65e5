// isoTime writes times itself, from a cached day: it must agree with Date#toISOString everywhere. A bill check's
// presentation: when it is retried, and its discrepancies by our payment and order.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { NEVER, type BillCheck } from '../storage/bill-check-store.ts'
import { Value } from '@sinclair/typebox/value'
import { isoTime, presentBillCheck } from './presenters.ts'
import { BillCheckResource } from './schemas.ts'

describe('isoTime', () => {
  it('writes what toISOString writes', () => {
    const day = 86_400_000
    const edges = [0, 1, 9, 10, 99, 100, 999, 1000, day - 1, day, day + 1, 951_782_400_000, 253_402_300_799_999, 253_402_300_800_000, -1, -day, 8.64e15]
    const random = Array.from({ length: 20_000 }, () => Math.floor(Math.random() * 253_402_300_800_000))
    // Runs of nearby times, as on a page, reuse the cached day; alternating days must not mix them up.
    const nearby = Array.from({ length: 2_000 }, (_, i) => 1_764_150_000_000 + (i % 2) * day + i * 997)
    for (const ms of [...edges, ...random, ...nearby]) assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms))
  })

  it('leaves what it does not write to toISOString, fractions and invalid times included', () => {
    assert.equal(isoTime(1.5), new Date(1.5).toISOString())
    assert.throws(() => isoTime(Number.NaN), RangeError)
  })
})

describe('presentBillCheck', () => {
  const check = (o: Partial<BillCheck>): BillCheck => ({
    merchantId: 'mch_a', channel: 'alipay', billDate: '2026-11-27', status: 'failed', attempts: 2, lines: null, discrepancies: null,
    details: null, lastError: 'HTTP 502', nextAttemptAt: Date.UTC(2026, 10, 28, 3), updatedAt: Date.UTC(2026, 10, 28, 2), ...o,
  })

  it('says when a failed check is tried again, and nothing for one given up on or finished', () => {
    assert.equal(presentBillCheck(check({})).next_attempt_at, '2026-11-28T03:00:00.000Z')
    assert.equal(presentBillCheck(check({ nextAttemptAt: NEVER })).next_attempt_at, null)
    assert.equal(presentBillCheck(check({ status: 'matched', lines: 0, discrepancies: 0, details: [] })).next_attempt_at, null)
  })

  it('names each discrepancy by our payment and order, with what we recorded beside what the bill says', () => {
    const line = { outTradeNo: 'pay_1', channelTradeNo: '2026112722001', amount: 1234 }
    const details = [
      { kind: 'amount_mismatch', line, orderId: 'ord_1', ours: 1233 },
      { kind: 'unknown_payment', line },
      // Stored before discrepancies named their order.
      { kind: 'not_recorded_as_paid', line, status: 'pending' },
    ]
    const presented = presentBillCheck(check({ status: 'discrepancies', lines: 3, discrepancies: 3, details })).discrepancy_details
    assert.deepEqual(presented.map((d) => [d.kind, d.payment_id, d.order_id, d.amount, d.our_amount, d.our_payment_status]), [
      ['amount_mismatch', 'pay_1', 'ord_1', 1234, 1233, null],
      ['unknown_payment', 'pay_1', null, 1234, null, null],
      ['not_recorded_as_paid', 'pay_1', null, 1234, null, 'pending'],
    ])
  })

  it('names a payment and a refund missing from the bill by our records, what the channel said, and the day it dates them on', () => {
    const payment = { id: 'pay_2', orderId: 'ord_2', amount: 500, channelTradeNo: '4200002', paidAt: Date.UTC(2026, 10, 27, 4) }
    const refund = { id: 'rfd_3', orderId: 'ord_3', paymentId: 'pay_3', channelTradeNo: '4200003', amount: 40, createdAt: Date.UTC(2026, 10, 25, 4), succeededAt: Date.UTC(2026, 10, 27, 5) }
    const details = [
      { kind: 'missing_from_bill', payment, orderId: 'ord_2', channelStatus: 'closed' },
      { kind: 'refund_missing_from_bill', refund, orderId: 'ord_3', channelStatus: 'succeeded', datedOn: '2026-11-25' },
    ]
    const presented = presentBillCheck(check({ status: 'discrepancies', lines: 0, discrepancies: 2, details }))
    assert.ok(Value.Check(BillCheckResource, presented), JSON.stringify([...Value.Errors(BillCheckResource, presented)]))
    assert.deepEqual(presented.discrepancy_details, [
      {
        kind: 'missing_from_bill', payment_id: 'pay_2', order_id: 'ord_2', channel_trade_no: '4200002', amount: 500, refund_no: null, refund_id: null,
        our_amount: null, our_channel_trade_no: null, our_payment_status: null, our_refund_status: null, paid_at: '2026-11-27T04:00:00.000Z',
        refund_succeeded_at: null, channel_status: 'closed', channel_bill_date: null,
      },
      {
        kind: 'refund_missing_from_bill', payment_id: 'pay_3', order_id: 'ord_3', channel_trade_no: '4200003', amount: 40, refund_no: null, refund_id: 'rfd_3',
        our_amount: null, our_channel_trade_no: null, our_payment_status: null, our_refund_status: null, paid_at: null,
        refund_succeeded_at: '2026-11-27T05:00:00.000Z', channel_status: 'succeeded', channel_bill_date: '2026-11-25',
      },
    ])
  })
})
