// Reconciles a channel's daily bill against our payments: every line the channel says it settled must be a
// payment we recorded as succeeded (or refunded as unexpected), for the same amount and trade number.
import type { Payment } from '../core/ports.ts'

export interface BillLine {
  /** Our payment id (the channel's out_trade_no). */
  outTradeNo: string
  channelTradeNo: string
  /** Fen. */
  amount: number
}

/** What a bill line disagrees with; orderId: the order of our payment, for the merchant to look at. */
export type BillDiscrepancy =
  | { kind: 'unknown_payment'; line: BillLine }
  | { kind: 'not_recorded_as_paid'; line: BillLine; orderId: string; status: Payment['status'] }
  | { kind: 'amount_mismatch'; line: BillLine; orderId: string; ours: number }
  | { kind: 'trade_no_mismatch'; line: BillLine; orderId: string; ours: string | null }

const SETTLED: readonly Payment['status'][] = ['succeeded', 'refund_requested', 'refunded']

/**
 * The merchant's bill against its own payments: a line naming another merchant's payment is one we have no record
 * of for this merchant (and says nothing of the other's, whose order and amount this merchant may then be shown).
 */
export async function compareBill(merchantId: string, lines: BillLine[], payment: (id: string) => Promise<Payment | null>): Promise<BillDiscrepancy[]> {
  const out: BillDiscrepancy[] = []
  for (const line of lines) {
    const found = await payment(line.outTradeNo)
    const p = found?.merchantId === merchantId ? found : null
    if (!p) out.push({ kind: 'unknown_payment', line })
    else if (!SETTLED.includes(p.status)) out.push({ kind: 'not_recorded_as_paid', line, orderId: p.orderId, status: p.status })
    else if (p.amount !== line.amount) out.push({ kind: 'amount_mismatch', line, orderId: p.orderId, ours: p.amount })
    else if (p.channelTradeNo !== line.channelTradeNo) out.push({ kind: 'trade_no_mismatch', line, orderId: p.orderId, ours: p.channelTradeNo })
  }
  return out
}
