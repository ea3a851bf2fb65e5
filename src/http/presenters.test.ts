// isoTime writes times itself, from a cached day: it must agree with Date#toISOString everywhere. A bill check's
// presentation: when it is retried, and its discrepancies by our payment and order.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { NEVER, type BillCheck } from '../storage/bill-check-store.ts'
import { isoTime, presentBillCheck } from './presenters.ts'

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
})
