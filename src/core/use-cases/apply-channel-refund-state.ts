// Applies what a channel's verified notification says of a refund: a merchant's refund settles at once instead
// of at its next scheduled question (reconcile-refunds.ts), and an unexpected payment's refund is marked done.
// Either happens once, however often the notification comes and whoever else settles the refund meanwhile.
import type { ChannelName } from '../order.ts'
import type { ChannelRefundState } from '../payment-channel.ts'
import { unexpectedRefundId, type ChannelPaymentDeps } from './channel-payment-deps.ts'
import { flag, markRefunded } from './apply-channel-payment-state.ts'
import type { RefundDeps } from './refund-deps.ts'
import { applyRefundState } from './settle-refund.ts'
import { oneStatement } from './one-statement.ts'

export type ChannelRefundOutcome =
  | 'refund_succeeded'
  | 'refund_failed'
  /** Settled before: nothing changed. */
  | 'duplicate'
  /** Nothing final was said, or it is left to the reconciler (an unexpected payment's refund that failed). */
  | 'ignored'
  /** Not final, and the channel says a person must act first (WeChat Pay's ABNORMAL): nothing changes. */
  | 'stuck'
  /** The refund is already final the other way (or was settled so meanwhile): nothing changes, a person must look. */
  | 'conflict'
  /** No such refund through this channel for this merchant (one made in the channel's console): nothing to apply. */
  | 'unknown_refund'
  /** The channel reports another amount than the refund asked for: believed by nobody, changes nothing. */
  | 'amount_mismatch'
  /** The channel reports the refund of another payment than the one it refunds: believed by nobody either. */
  | 'trade_mismatch'

export interface ChannelRefundNotice {
  channel: ChannelName
  /** The merchant whose keys verified the notification: it must own the refund. */
  merchantId: string
  refundId: string
  amount: number
  /** The channel's number of the payment the refund gives back. */
  channelTradeNo: string
  state: ChannelRefundState
}

export async function applyChannelRefundState(deps: { refunds: RefundDeps; payments: ChannelPaymentDeps }, n: ChannelRefundNotice): Promise<ChannelRefundOutcome> {
  // Real channels refund live orders only (they pay live orders only).
  const refund = await oneStatement(deps.refunds, (w) => w.refunds.byId(n.merchantId, 'live', n.refundId))
  if (!refund) return applyToUnexpectedPayment(deps.payments, n)
  if (refund.channel !== n.channel) return 'unknown_refund'
  if (refund.amount !== n.amount) return 'amount_mismatch'
  const order = await oneStatement(deps.refunds, (w) => w.orders.byId(refund.merchantId, refund.mode, refund.orderId))
  if (order?.channelTradeNo !== n.channelTradeNo) return 'trade_mismatch'
  // Settled already: older news (a late retry of ABNORMAL, say) is no longer news.
  if (refund.status !== 'pending') return refund.status === n.state.status || n.state.status === 'pending' ? 'duplicate' : 'conflict'
  if (n.state.status === 'pending') return n.state.attention ? 'stuck' : 'ignored'
  const after = await applyRefundState(deps.refunds, refund, n.state)
  // Settled the other way meanwhile (the reconciler asked): what it wrote stands, and a person must look.
  if (after.status !== n.state.status) return 'conflict'
  return after.status === 'succeeded' ? 'refund_succeeded' : 'refund_failed'
}

/** The refund of an unexpected payment (its id derived from the payment's): only its success is applied here. */
async function applyToUnexpectedPayment(deps: ChannelPaymentDeps, n: ChannelRefundNotice): Promise<ChannelRefundOutcome> {
  const paymentId = n.refundId.replace(/^rfd_/, 'pay_')
  const payment = n.refundId === paymentId ? null : await oneStatement(deps, (w) => w.payments.byId(paymentId))
  if (!payment || !payment.unexpected || payment.merchantId !== n.merchantId || payment.channel !== n.channel || unexpectedRefundId(payment.id) !== n.refundId) {
    return 'unknown_refund'
  }
  if (payment.amount !== n.amount) return 'amount_mismatch'
  if (payment.channelTradeNo !== n.channelTradeNo) return 'trade_mismatch'
  if (payment.status === 'refunded') return n.state.status === 'failed' ? 'conflict' : 'duplicate'
  if (payment.status !== 'refund_requested') return 'ignored'
  // A failure is left to the reconciler, which asks, and flags the payment for a person when the refund is refused.
  if (n.state.status === 'failed' || (n.state.status === 'pending' && !n.state.attention)) return 'ignored'
  const order = await oneStatement(deps, (w) => w.orders.byId(payment.merchantId, 'live', payment.orderId))
  if (!order) return 'unknown_refund'
  // Stuck until the merchant acts at the channel: waits for a person, as a refused refund does.
  if (n.state.status === 'pending') {
    await flag(deps, payment, order, n.state.attention!)
    return 'stuck'
  }
  await markRefunded(deps, payment, order)
  return 'refund_succeeded'
}
