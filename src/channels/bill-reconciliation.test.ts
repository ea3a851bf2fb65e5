// Bill reconciliation names every way a bill line can disagree with our payments.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Payment } from '../core/ports.ts'
import { compareBill } from './bill-reconciliation.ts'

const payment = (id: string, o: Partial<Payment> = {}): Payment => ({
  id, merchantId: 'm', orderId: 'o', channel: 'wechatpay', status: 'succeeded', amount: 100, currency: 'CNY', channelTradeNo: `tx_${id}`,
  unexpected: false, createdAt: 0, updatedAt: 0, ...o,
})

describe('bill reconciliation', () => {
  it('accepts matching lines (unexpected payments refunded included) and names every discrepancy', async () => {
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
      ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7'].map((id) => ({ outTradeNo: id, channelTradeNo: `tx_${id}`, amount: 100 })),
      async (id) => ours.get(id) ?? null,
    )
    assert.deepEqual(found.map((d) => [d.kind, d.line.outTradeNo, 'orderId' in d ? d.orderId : null]), [
      ['not_recorded_as_paid', 'p3', 'o'],
      ['amount_mismatch', 'p4', 'o'],
      ['trade_no_mismatch', 'p5', 'o'],
      ['unknown_payment', 'p6', null],
      ['unknown_payment', 'p7', null],
    ])
  })
})
