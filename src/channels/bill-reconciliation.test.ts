// Bill reconciliation names every way a bill line can disagree with our payments and refunds.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { ChannelPaymentState, ChannelRefundState } from '../core/payment-channel.ts'
import type { OrderPayment, Payment, PaymentRefund } from '../core/ports.ts'
import type { Refund } from '../core/refund.ts'
import { compareBill, paymentsMissingFromBill, refundsMissingFromBill, type BillLine, type BillRefundLine } from './bill-reconciliation.ts'

const payment = (id: string, o: Partial<Payment> = {}): Payment => ({
  id, merchantId: 'm', orderId: `o_${id}`, channel: 'wechatpay', status: 'succeeded', amount: 100, currency: 'CNY', channelTradeNo: `tx_${id}`,
  unexpected: false, createdAt: 0, updatedAt: 0, ...o,
})

const refund = (id: string, orderId: string, o: Partial<Refund> = {}): Refund => ({
  id, merchantId: 'm', mode: 'live', orderId, amount: 40, currency: 'CNY', status: 'succeeded', outRefundNo: `out_${id}`, reason: null,
  failureReason: null, channel: 'wechatpay', channelRefundNo: null, requestHash: '', createdAt: 0, succeededAt: 0, failedAt: null, updatedAt: 0,
  nextCheckAt: 0, checkCount: 0, ...o,
})

describe('bill reconciliation', () => {
  it('accepts matching payment lines (unexpected payments refunded included) and names every discrepancy', async () => {
    const ours = new Map([
      ['p1', payment('p1')],
      ['p2', payment('p2', { status: 'refunded', unexpected: true })],
      ['p3', payment('p3', { status: 'pending', channelTradeNo: null })],
      ['p4', payment('p4', { amount: 99 })],
      ['p5', payment('p5', { channelTradeNo: 'other' })],
      // Another merchant's payment, on this merchant's bill: unknown here, and nothing of it shown.
      ['p7', payment('p7', { merchantId: 'another' })],
    ])
    const found = await compareBill(
      'm',
      ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7'].map((id) => ({ kind: 'payment' as const, outTradeNo: id, channelTradeNo: `tx_${id}`, amount: 100 })),
      { payment: async (id) => ours.get(id) ?? null, refund: async () => null },
    )
    assert.deepEqual(found.map((d) => [d.kind, d.line.outTradeNo, 'orderId' in d ? d.orderId : null]), [
      ['not_recorded_as_paid', 'p3', 'o_p3'],
      ['amount_mismatch', 'p4', 'o_p4'],
      ['trade_no_mismatch', 'p5', 'o_p5'],
      ['unknown_payment', 'p6', null],
      ['unknown_payment', 'p7', null],
    ])
  })

  it('accepts the refunds we made and flags one made at the channel, a wrong amount, and one we do not count as done', async () => {
    const payments = new Map([
      ['p1', payment('p1', { status: 'succeeded' })],
      ['pay_u1', payment('pay_u1', { status: 'refunded', unexpected: true })],
      ['pay_u2', payment('pay_u2', { status: 'refund_requested', unexpected: true })],
      ['pay_u3', payment('pay_u3', { status: 'refunded', unexpected: true })],
      ['p9', payment('p9', { merchantId: 'another' })],
    ])
    const refunds = new Map([
      ['rfd_a', refund('rfd_a', 'o_p1')],
      ['rfd_b', refund('rfd_b', 'o_p1', { status: 'pending' })],
      ['rfd_c', refund('rfd_c', 'o_p1', { amount: 41 })],
      ['rfd_d', refund('rfd_d', 'o_other')],
      ['rfd_e', refund('rfd_e', 'o_p1', { status: 'pending' })],
      ['rfd_f', refund('rfd_f', 'o_p1', { status: 'failed' })],
      ['rfd_g', refund('rfd_g', 'o_p9', { merchantId: 'another' })],
    ])
    const line = (refundNo: string, outTradeNo: string, amount = 40, state: BillRefundLine['state'] = 'succeeded'): BillRefundLine => ({ kind: 'refund', refundNo, outTradeNo, channelTradeNo: `tx_${outTradeNo}`, amount, state })
    const found = await compareBill(
      'm',
      [
        line('rfd_a', 'p1'), // ours, settled: matches
        line('rfd_b', 'p1'), // the channel paid it back, ours still pending
        line('rfd_c', 'p1'), // another amount
        line('rfd_d', 'p1'), // ours, but of another order
        line('rfd_e', 'p1', 40, 'processing'), // still being paid back, ours pending: matches
        line('rfd_f', 'p1', 40, 'processing'), // being paid back, ours failed
        line('rfd_f', 'p1', 40, 'failed'), // closed at the channel, ours failed: matches
        line('rfd_e', 'p1', 40, 'failed'), // closed at the channel, ours pending (its answer not applied yet): matches
        line('rfd_a', 'p1', 40, 'failed'), // closed at the channel, ours succeeded
        line('1234567890', 'p1'), // made in the channel's console
        line('rfd_u1', 'pay_u1', 100), // an unexpected payment given back: matches
        line('rfd_u2', 'pay_u2', 100), // given back at the channel, our payment still waits
        line('rfd_u3', 'pay_u3', 99), // an unexpected payment given back for another amount
        line('rfd_g', 'p9'), // another merchant's payment and refund
        line('rfd_x', 'p404'), // no payment of ours
      ],
      { payment: async (id) => payments.get(id) ?? null, refund: async (merchantId, id) => (refunds.get(id)?.merchantId === merchantId ? refunds.get(id)! : null) },
    )
    assert.deepEqual(
      found.map((d) => [d.kind, d.line.kind === 'refund' ? d.line.refundNo : '', 'orderId' in d ? d.orderId : null, 'refundId' in d ? d.refundId : null, 'ours' in d ? d.ours : 'status' in d ? d.status : null]),
      [
        ['refund_not_recorded_as_succeeded', 'rfd_b', 'o_p1', 'rfd_b', 'pending'],
        ['refund_amount_mismatch', 'rfd_c', 'o_p1', 'rfd_c', 41],
        ['unknown_refund', 'rfd_d', 'o_p1', null, null],
        ['refund_not_recorded_as_succeeded', 'rfd_f', 'o_p1', 'rfd_f', 'failed'],
        ['refund_recorded_as_succeeded', 'rfd_a', 'o_p1', 'rfd_a', 'succeeded'],
        ['unknown_refund', '1234567890', 'o_p1', null, null],
        ['refund_not_recorded_as_succeeded', 'rfd_u2', 'o_pay_u2', 'rfd_u2', 'refund_requested'],
        ['refund_amount_mismatch', 'rfd_u3', 'o_pay_u3', 'rfd_u3', 100],
        ['unknown_refund', 'rfd_g', null, null, null],
        ['unknown_refund', 'rfd_x', null, null, null],
      ],
    )
  })

  it("takes an unexpected payment given back by hand in the channel's console for its refund, not for one ScanPay never heard of", async () => {
    // The refund was refused (balance short, say); a person gave it back in the console, under the console's own
    // number, and recorded it (`scanpay unexpected resolve`): the payment reads refunded, and the order never paid.
    const payments = new Map([
      ['pay_h1', payment('pay_h1', { status: 'refunded', unexpected: true, nextCheckAt: null })],
      ['pay_h2', payment('pay_h2', { status: 'refund_requested', unexpected: true, nextCheckAt: null })],
      ['pay_h3', payment('pay_h3', { status: 'refunded', unexpected: true, nextCheckAt: null })],
      ['pay_h4', payment('pay_h4', { status: 'refunded', unexpected: true, nextCheckAt: null })],
      ['pay_h5', payment('pay_h5', { status: 'refunded', unexpected: true, nextCheckAt: null })],
    ])
    const line = (refundNo: string, outTradeNo: string, amount: number): BillRefundLine => ({ kind: 'refund', refundNo, outTradeNo, channelTradeNo: `tx_${outTradeNo}`, amount, state: 'succeeded' })
    const found = await compareBill(
      'm',
      [
        line('50300000001', 'pay_h1', 100), // given back by hand and recorded: matches
        line('50300000002', 'pay_h2', 100), // given back by hand, not recorded yet
        line('50300000003', 'pay_h3', 60), // given back by hand, only in part
        line('50300000004', 'pay_h4', 60), // given back by hand in two parts the same day: matches
        line('50300000005', 'pay_h4', 40),
        line('50300000006', 'pay_h5', 100), // given back by hand, then once more
        line('50300000007', 'pay_h5', 1),
      ],
      { payment: async (id) => payments.get(id) ?? null, refund: async () => null },
    )
    assert.deepEqual(
      found.map((d) => [d.kind, d.line.outTradeNo, 'orderId' in d ? d.orderId : null, 'refundId' in d ? d.refundId : null, 'ours' in d ? d.ours : 'status' in d ? d.status : null]),
      [
        ['refund_not_recorded_as_succeeded', 'pay_h2', 'o_pay_h2', 'rfd_h2', 'refund_requested'],
        ['refund_amount_mismatch', 'pay_h3', 'o_pay_h3', 'rfd_h3', 100],
        ['refund_amount_mismatch', 'pay_h5', 'o_pay_h5', 'rfd_h5', 100],
        ['refund_amount_mismatch', 'pay_h5', 'o_pay_h5', 'rfd_h5', 100],
      ],
    )
  })

  it("flags an unexpected payment's refund the channel is paying back while ScanPay holds it refused, for a person", async () => {
    // WeChat lists a refund PROCESSING while it pays it back. ScanPay following it (a next check) or done with it
    // agrees; ScanPay holding it refused, waiting for a person to give the money back, does not: as a refund of
    // ours recorded failed, a person acting on that would give the money back twice.
    const payments = new Map([
      ['pay_f1', payment('pay_f1', { status: 'refund_requested', unexpected: true, nextCheckAt: 5_000 })],
      ['pay_f2', payment('pay_f2', { status: 'refunded', unexpected: true, nextCheckAt: null })],
      ['pay_f3', payment('pay_f3', { status: 'refund_requested', unexpected: true, nextCheckAt: null })],
    ])
    const line = (outTradeNo: string): BillRefundLine => ({ kind: 'refund', refundNo: outTradeNo.replace('pay_', 'rfd_'), outTradeNo, channelTradeNo: `tx_${outTradeNo}`, amount: 100, state: 'processing' })
    const found = await compareBill('m', [line('pay_f1'), line('pay_f2'), line('pay_f3')], { payment: async (id) => payments.get(id) ?? null, refund: async () => null })
    assert.deepEqual(found.map((d) => [d.kind, d.line.outTradeNo, 'status' in d ? d.status : null]), [['refund_not_recorded_as_succeeded', 'pay_f3', 'refund_requested']])
  })

  it("flags an unexpected payment recorded as given back whose refund the channel closed or found abnormal", async () => {
    // ABNORMAL (the account paid with cannot take it back) leaves the payment held for a person: that agrees.
    const payments = new Map([
      ['pay_c1', payment('pay_c1', { status: 'refunded', unexpected: true, nextCheckAt: null })],
      ['pay_c2', payment('pay_c2', { status: 'refund_requested', unexpected: true, nextCheckAt: null })],
    ])
    const line = (outTradeNo: string): BillRefundLine => ({ kind: 'refund', refundNo: outTradeNo.replace('pay_', 'rfd_'), outTradeNo, channelTradeNo: `tx_${outTradeNo}`, amount: 100, state: 'failed' })
    const found = await compareBill('m', [line('pay_c1'), line('pay_c2')], { payment: async (id) => payments.get(id) ?? null, refund: async () => null })
    assert.deepEqual(found.map((d) => [d.kind, d.line.outTradeNo, 'refundId' in d ? d.refundId : null, 'status' in d ? d.status : null]), [['refund_recorded_as_succeeded', 'pay_c1', 'rfd_c1', 'refunded']])
  })
})

/** 2026-11-26 (Beijing) and its neighbours' bills: the day before's as `before` says, the day after's not out yet. */
function billDay(before: BillLine[]) {
  const from = Date.parse('2026-11-26T00:00:00+08:00')
  const looked: string[] = []
  const bills = new Map([['2026-11-25', before]])
  const billOf = async (date: string) => {
    looked.push(date)
    return date >= '2026-11-27' ? null : (bills.get(date) ?? [])
  }
  return { from, to: from + 86_400_000, looked, billDay: { date: '2026-11-26', billOf } }
}

describe('orders recorded as paid against the bill', () => {
  const paymentLine = (id: string): BillLine => ({ kind: 'payment', outTradeNo: id, channelTradeNo: `tx_${id}`, amount: 100 })
  const day = billDay([paymentLine('p_before')])
  const paid = (id: string, paidAt = day.from + 3_600_000): OrderPayment => ({ id, orderId: `o_${id}`, amount: 100, channelTradeNo: `tx_${id}`, paidAt })
  const onBill = paymentLine

  it("asks the channel about each one the bill does not list, and flags it unless the channel dates it another day whose bill lists it", async () => {
    const says = new Map<string, ChannelPaymentState>([
      // Paid a second before midnight by the channel's clock, after it by ours (its time was ahead of ours): yesterday's bill.
      ['p_before', { status: 'succeeded', channelTradeNo: 'tx_p_before', amount: 100, paidAt: day.from - 1000 }],
      // The same, but yesterday's bill does not list it either.
      ['p_before_unlisted', { status: 'succeeded', channelTradeNo: 'tx_p_before_unlisted', amount: 100, paidAt: day.from - 2000 }],
      // Dated tomorrow by a clock ahead: tomorrow's bill is not out yet, and is not looked at.
      ['p_after', { status: 'succeeded', channelTradeNo: 'tx_p_after', amount: 100, paidAt: day.to }],
      // Paid that day by the channel's own account, yet not on its bill.
      ['p_same', { status: 'succeeded', channelTradeNo: 'tx_p_same', amount: 100, paidAt: day.from + 5000 }],
      ['p_undated', { status: 'succeeded', channelTradeNo: 'tx_p_undated', amount: 100 }],
      // Recorded as paid, never paid at the channel.
      ['p_pending', { status: 'pending' }],
      ['p_closed', { status: 'closed' }],
    ])
    const asked: string[] = []
    const recorded = ['p_listed', ...says.keys()].map((id) => paid(id))
    const found = await paymentsMissingFromBill([onBill('p_listed'), onBill('p_unknown')], recorded, day.billDay, async (p) => {
      asked.push(p.id)
      return says.get(p.id)!
    })
    assert.deepEqual(asked, [...says.keys()], 'a payment on the bill is not asked about')
    assert.deepEqual(day.looked, ['2026-11-25', '2026-11-25', '2026-11-27'])
    assert.deepEqual(found.map((d) => [d.kind, d.payment.id, d.orderId, d.channelStatus, d.datedOn ?? null]), [
      ['missing_from_bill', 'p_before_unlisted', 'o_p_before_unlisted', 'succeeded', '2026-11-25'],
      ['missing_from_bill', 'p_same', 'o_p_same', 'succeeded', null],
      ['missing_from_bill', 'p_undated', 'o_p_undated', 'succeeded', null],
      ['missing_from_bill', 'p_pending', 'o_p_pending', 'pending', null],
      ['missing_from_bill', 'p_closed', 'o_p_closed', 'closed', null],
    ])
    assert.deepEqual(found[1]!.payment, paid('p_same'), 'with our record of it')
  })

  it('a refund line of the payment does not stand for its payment line, and a failed question fails the check', async () => {
    const refundLine: BillLine = { kind: 'refund', refundNo: 'rfd_1', outTradeNo: 'p1', channelTradeNo: 'tx_p1', amount: 100, state: 'succeeded' }
    await assert.rejects(
      paymentsMissingFromBill([refundLine], [paid('p1')], day.billDay, async () => {
        throw new Error('the channel did not answer')
      }),
      /did not answer/,
    )
  })
})

describe('refunds recorded as succeeded against the bill', () => {
  const refundLine = (id: string): BillLine => ({ kind: 'refund', refundNo: id, outTradeNo: `p_${id}`, channelTradeNo: `tx_${id}`, amount: 40, state: 'processing' })
  const day = billDay([refundLine('r_asked_before')])
  const refunded = (id: string): PaymentRefund => ({ id, orderId: `o_${id}`, paymentId: `p_${id}`, channelTradeNo: `tx_${id}`, amount: 40, createdAt: day.from + 1000, succeededAt: day.from + 3_600_000 })
  const onBill = refundLine

  it("asks the channel about each one the bill does not list, and flags it unless the channel dates it another day whose bill lists it", async () => {
    const says = new Map<string, ChannelRefundState>([
      // WeChat Pay lists a refund on the day it was asked for: asked the day before (listed then, still being paid
      // back), learned of as succeeded today.
      ['r_asked_before', { status: 'succeeded', channelRefundNo: 'x1', datedAt: day.from - 60_000 }],
      // Asked for the day before too, by the channel's account, but not on that day's bill.
      ['r_asked_before_unlisted', { status: 'succeeded', channelRefundNo: 'x0', datedAt: day.from - 3_600_000 }],
      // Made after midnight by the channel's clock: tomorrow's bill, not out yet.
      ['r_after', { status: 'succeeded', channelRefundNo: 'x2', datedAt: day.to + 1000 }],
      // Made that day by the channel's own account, yet not on its bill.
      ['r_same', { status: 'succeeded', channelRefundNo: 'x3', datedAt: day.from + 5000 }],
      ['r_undated', { status: 'succeeded', channelRefundNo: 'x4' }],
      // Recorded as succeeded; the channel never made it, or has not yet.
      ['r_unknown', { status: 'failed', reason: 'no such refund', notFound: true }],
      ['r_pending', { status: 'pending' }],
    ])
    const asked: string[] = []
    const recorded = ['r_listed', ...says.keys()].map(refunded)
    // A payment line of the refund's payment does not stand for the refund.
    const paymentLine: BillLine = { kind: 'payment', outTradeNo: 'p_r_same', channelTradeNo: 'tx_r_same', amount: 100 }
    const found = await refundsMissingFromBill([onBill('r_listed'), paymentLine], recorded, day.billDay, async (r) => {
      asked.push(r.id)
      return says.get(r.id)!
    })
    assert.deepEqual(asked, [...says.keys()], 'a refund on the bill is not asked about')
    assert.deepEqual(day.looked, ['2026-11-25', '2026-11-25', '2026-11-27'])
    assert.deepEqual(found.map((d) => [d.kind, d.refund.id, d.orderId, d.channelStatus, d.datedOn ?? null]), [
      ['refund_missing_from_bill', 'r_asked_before_unlisted', 'o_r_asked_before_unlisted', 'succeeded', '2026-11-25'],
      ['refund_missing_from_bill', 'r_same', 'o_r_same', 'succeeded', null],
      ['refund_missing_from_bill', 'r_undated', 'o_r_undated', 'succeeded', null],
      ['refund_missing_from_bill', 'r_unknown', 'o_r_unknown', 'failed', null],
      ['refund_missing_from_bill', 'r_pending', 'o_r_pending', 'pending', null],
    ])
    assert.deepEqual(found[1]!.refund, refunded('r_same'), 'with our record of it')
  })

  it('a failed question fails the check', async () => {
    await assert.rejects(
      refundsMissingFromBill([], [refunded('r1')], day.billDay, async () => {
        throw new Error('the channel did not answer')
      }),
      /did not answer/,
    )
  })
})
