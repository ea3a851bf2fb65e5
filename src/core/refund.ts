// The refund: money going back to the customer for part or all of a paid order, and the moves it may make.
import { hash } from 'node:crypto'
import type { ChannelName, Mode, OrderStatus } from './order.ts'

export type RefundStatus = 'pending' | 'succeeded' | 'failed'

/** Every move a refund may make; succeeded and failed are final. */
const MOVES: Record<RefundStatus, readonly RefundStatus[]> = {
  pending: ['succeeded', 'failed'],
  succeeded: [],
  failed: [],
}

export function canMoveRefund(from: RefundStatus, to: RefundStatus): boolean {
  return MOVES[from].includes(to)
}

/** Orders that have money left to give back. */
export const REFUNDABLE_STATUSES: readonly OrderStatus[] = ['paid', 'partially_refunded']

export function isRefundable(status: OrderStatus): boolean {
  return REFUNDABLE_STATUSES.includes(status)
}

export interface Refund {
  id: string
  merchantId: string
  mode: Mode
  orderId: string
  /** Minor units of the order's currency. */
  amount: number
  currency: string
  status: RefundStatus
  /** The merchant's own number for this refund, unique per merchant and mode. */
  outRefundNo: string
  reason: string | null
  failureReason: string | null
  /** The channel the order was paid through, which gives the money back. */
  channel: ChannelName
  /** The channel's number for this refund, once it has one. */
  channelRefundNo: string | null
  /** Fingerprint of the creating parameters, for out_refund_no idempotency. */
  requestHash: string
  createdAt: number
  succeededAt: number | null
  failedAt: number | null
  updatedAt: number
  /** When the reconciliation job should next ask the channel about a refund still pending. */
  nextCheckAt: number
  checkCount: number
}

export interface RefundRequest {
  orderId: string
  amount: number
  outRefundNo: string
  reason: string | null
}

/** A fingerprint of what defines the refund: the same out_refund_no with another fingerprint is a conflict. */
export function refundRequestHash(r: RefundRequest): string {
  return hash('sha256', JSON.stringify([r.orderId, r.amount, r.outRefundNo, r.reason]), 'hex')
}

const MINUTE = 60_000

/**
 * How long to wait before asking the channel again about a refund that is still pending after `checks`
 * questions: quickly at first (most channels settle within minutes), then hourly, for as long as it takes.
 */
export function nextRefundCheckDelay(checks: number): number {
  const schedule = [1, 2, 5, 10, 30] as const
  return (schedule[checks] ?? 60) * MINUTE
}
