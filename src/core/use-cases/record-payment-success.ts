// Applies a channel's word that a payment succeeded: the order moves to paid exactly once, whatever the
// concurrency, with its order.paid event in the same transaction.
import { AppError } from '../errors.ts'
import { newId } from '../ids.ts'
import type { ChannelName, Order } from '../order.ts'
import type { Payment } from '../ports.ts'
import type { UseCaseDeps } from './context.ts'
import { orderEvent } from './order-events.ts'
import { readOrder } from './one-statement.ts'

export interface PaymentSuccess {
  order: Order
  channel: ChannelName
  /** The channel's transaction number for this payment. */
  channelTradeNo: string
  amount: number
  currency: string
  /** Our payment id, when the channel payment was opened earlier. */
  paymentId?: string
  /**
   * When the channel says the customer paid. A payment made before the order expired counts even if its
   * notification arrives after expires_at (as long as the order is still pending), so it is not refunded.
   */
  paidAt?: number
}

export type PaymentSuccessOutcome =
  | { result: 'paid'; order: Order }
  /** The same success was applied before: nothing changed. */
  | { result: 'already_applied'; order: Order }
  /** The order was no longer pending (closed, expired, or paid through another payment). */
  | { result: 'not_pending'; order: Order }

export async function recordPaymentSuccess(deps: UseCaseDeps, s: PaymentSuccess): Promise<PaymentSuccessOutcome> {
  if (s.amount !== s.order.amount || s.currency !== s.order.currency) {
    throw new AppError('parameter_invalid', `paid ${s.amount} ${s.currency} does not match the order's ${s.order.amount} ${s.order.currency}`, 'amount')
  }
  const now = deps.clock.now()
  const paidAt = s.paidAt !== undefined && s.paidAt < now && s.paidAt >= s.order.createdAt ? s.paidAt : now
  const paid: Order = { ...s.order, status: 'paid', channel: s.channel, channelTradeNo: s.channelTradeNo, paidAt, updatedAt: paidAt }
  const payment: Payment = {
    id: s.paymentId ?? newId('pay', now),
    merchantId: s.order.merchantId,
    orderId: s.order.id,
    channel: s.channel,
    status: 'succeeded',
    amount: s.amount,
    currency: s.currency,
    channelTradeNo: s.channelTradeNo,
    unexpected: false,
    createdAt: now,
    updatedAt: now,
  }
  // One transaction, sent whole: the order moves to paid only if it is still pending, and its payment and its
  // order.paid event are written with it or not at all.
  const c = deps.tx.changes
  const unmet = await deps.tx.applyChanges([
    c.markPaid(s.order, s.channel, s.channelTradeNo, paidAt),
    // A channel attempt opened earlier already has its row: it moves to succeeded instead of a second row.
    c.succeededPayment(payment, s.paymentId ? ['pending', 'failed', 'closed'] : []),
    c.insertEvent(orderEvent(deps, 'order.paid', paid, now)),
  ])
  let outcome: PaymentSuccessOutcome
  if (unmet === null) outcome = { result: 'paid', order: paid }
  else if (unmet === 0) {
    // The order can no longer be paid: what it is now decides the answer.
    const current = (await readOrder(deps, s.order)) ?? s.order
    const same = current.channel === s.channel && current.channelTradeNo === s.channelTradeNo
    outcome = { result: same ? 'already_applied' : 'not_pending', order: current }
  } else {
    throw new Error(`payment ${payment.id} of order ${s.order.id} exists and is not pending, failed or closed: it cannot become this success`)
  }
  if (outcome.result === 'paid') {
    deps.listener.orderChanged(outcome.order)
    deps.listener.eventsWritten()
  }
  return outcome
}
