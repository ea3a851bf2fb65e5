// What the channel-payment use cases need beyond every use case's deps: the adapters, by name.
import type { ChannelName, Order } from '../order.ts'
import type { Payment } from '../ports.ts'
import type { PaymentChannel } from '../payment-channel.ts'
import type { UseCaseDeps } from './context.ts'

export interface ChannelPaymentDeps extends UseCaseDeps {
  /** The channel adapter by name; undefined when this platform does not run it. */
  channel(name: ChannelName): PaymentChannel | undefined
  /** Where a channel sends its notifications for this merchant's payments. */
  notifyUrl(channel: ChannelName, merchantId: string): string
  /**
   * How an unexpected payment's automatic refund ended, for the operator: refused means the customer's money is
   * still with the merchant's channel account and no automatic attempt follows, so a person must give it back.
   */
  unexpectedRefundEnded?(outcome: 'refunded' | 'refused', payment: Payment, order: Order, reason: string | null): void
  /**
   * An unexpected payment's refund that went on by itself (past REFUND_WAIT_MS) failed: nobody awaits it any more,
   * so only this hears of it. The payment stays refund_requested and the reconciler asks the channel again.
   */
  onBackgroundRefundFailed?(payment: Payment, order: Order, err: unknown): void
}

const SECOND = 1000

/**
 * Longer than any channel call may take (real-channels.ts CHANNEL_TIMEOUT_MS, 10 s): until then a create or refund
 * request may still be reaching the channel, so its "no such order" or "no such refund" means nothing yet.
 */
export const OPENING_WINDOW_MS = 30 * SECOND

/**
 * How long after the `checks`-th question the reconciler asks a channel again about an open attempt: soon at
 * first (a lost notification should cost the customer seconds, not minutes), then every five minutes.
 */
export function nextPaymentCheckDelay(checks: number): number {
  const schedule = [2, 3, 5, 10, 20, 30, 60, 120, 300] as const
  return (schedule[checks] ?? 300) * SECOND
}

/** Our out_refund_no for giving back an unexpected payment: derived from the payment, so retries refund once. */
export function unexpectedRefundId(paymentId: string): string {
  return `rfd_${paymentId.replace(/^pay_/, '')}`
}
