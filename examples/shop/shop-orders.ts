// The shop's own orders, and how facts from ScanPay move them. Every fact (a webhook, an API answer) is
// applied so that order does not matter and repeats change nothing: the order is paid (and fulfilled) once,
// refunds only ever add up, and no status ever moves backwards.
import type { Order, Refund } from './scanpay.ts'

export type ShopOrderStatus = 'awaiting_payment' | 'expired' | 'closed' | 'paid' | 'partially_refunded' | 'refunded'

export interface ShopRefund {
  id: string
  amount: number
  status: Refund['status']
}

export interface ShopOrder {
  /** The shop's order number; also the ScanPay order's out_trade_no. */
  id: string
  product: string
  amount: number
  currency: string
  status: ShopOrderStatus
  scanpayOrderId: string | null
  payUrl: string | null
  qrSvgUrl: string | null
  createdAt: string
  paidAt: string | null
  /** Where the shop first learned it was paid: a webhook, or by asking the API. */
  paidVia: 'webhook' | 'api' | null
  /** How many times the order was fulfilled (the goods handed over). Must only ever become 1. */
  fulfilments: number
  amountRefunded: number
  refunds: Record<string, ShopRefund>
  /** When the shop last asked ScanPay about this order itself (a fallback for missed webhooks). */
  checkedAt: string | null
}

export const STATUS_LABELS: Record<ShopOrderStatus, string> = {
  awaiting_payment: 'Waiting for payment',
  expired: 'Expired',
  closed: 'Closed',
  paid: 'Paid',
  partially_refunded: 'Partially refunded',
  refunded: 'Refunded',
}

export function newShopOrder(id: string, product: string, amount: number, currency: string, now: Date): ShopOrder {
  return {
    id,
    product,
    amount,
    currency,
    status: 'awaiting_payment',
    scanpayOrderId: null,
    payUrl: null,
    qrSvgUrl: null,
    createdAt: now.toISOString(),
    paidAt: null,
    paidVia: null,
    fulfilments: 0,
    amountRefunded: 0,
    refunds: {},
    checkedAt: null,
  }
}

function isPaid(o: ShopOrder): boolean {
  return o.status === 'paid' || o.status === 'partially_refunded' || o.status === 'refunded'
}

/** Fulfils the order the first time the shop learns it was paid; never again. */
function markPaid(o: ShopOrder, paidAt: string | null, via: 'webhook' | 'api'): void {
  if (isPaid(o)) return
  o.status = 'paid'
  o.paidAt = paidAt
  o.paidVia = via
  o.fulfilments += 1
}

function settleRefundStatus(o: ShopOrder): void {
  const succeeded = Object.values(o.refunds)
    .filter((r) => r.status === 'succeeded')
    .reduce((sum, r) => sum + r.amount, 0)
  o.amountRefunded = Math.max(o.amountRefunded, succeeded)
  if (!isPaid(o) || o.amountRefunded === 0) return
  o.status = o.amountRefunded >= o.amount ? 'refunded' : 'partially_refunded'
}

/** Applies what a ScanPay order snapshot says (from order events, refund events, or the API). */
export function applyScanPayOrder(o: ShopOrder, s: Order, via: 'webhook' | 'api'): void {
  if (s.paid_at !== null || s.status === 'paid' || s.status === 'partially_refunded' || s.status === 'refunded') {
    markPaid(o, s.paid_at, via)
  } else if ((s.status === 'expired' || s.status === 'closed') && o.status === 'awaiting_payment') {
    o.status = s.status
  }
  o.amountRefunded = Math.max(o.amountRefunded, s.amount_refunded)
  settleRefundStatus(o)
}

/** Records a refund's state; a final state (succeeded, failed) is never overwritten by an older pending one. */
export function applyScanPayRefund(o: ShopOrder, r: Refund): void {
  const known = o.refunds[r.id]
  if (!known || known.status === 'pending') o.refunds[r.id] = { id: r.id, amount: r.amount, status: r.status }
  settleRefundStatus(o)
}

/** What is left to refund: paid, minus refunds that succeeded or may still succeed. */
export function refundable(o: ShopOrder): number {
  if (!isPaid(o)) return 0
  const held = Object.values(o.refunds)
    .filter((r) => r.status !== 'failed')
    .reduce((sum, r) => sum + r.amount, 0)
  return Math.max(0, o.amount - Math.max(held, o.amountRefunded))
}

/** `1234` → `¥12.34`, by integer arithmetic (no floats). */
export function formatAmount(amount: number, currency: string): string {
  const sign = currency === 'CNY' ? '¥' : `${currency} `
  return `${sign}${Math.trunc(amount / 100)}.${String(amount % 100).padStart(2, '0')}`
}
