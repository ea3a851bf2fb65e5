// Applies a channel's word that a payment succeeded: the order moves to paid exactly once, whatever the
// concurrency, with its order.paid event in the same transaction.
import { AppError } from '../errors.ts'
import { newId } from '../ids.ts'
import type { ChannelName, Order } from '../order.ts'
import type { Payment } from '../ports.ts'
import type { UseCaseDeps } from './context.ts'
import { orderEvent } from './order-events.ts'

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
  const outcome = await deps.tx.transaction(async (w): Promise<PaymentSuccessOutcome> => {
    const won = await w.orders.markPaid(s.order, s.channel, s.channelTradeNo, paidAt)
    if (!won) {
      const current = (await w.orders.byId(s.order.merchantId, s.order.mode, s.order.id)) ?? s.order
      const same = current.channel === s.channel && current.channelTradeNo === s.channelTradeNo
      return { result: same ? 'already_applied' : 'not_pending', order: current }
    }
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
    // A channel attempt opened earlier already has its row: it moves to succeeded instead of a second row.
    const opened = s.paymentId
      ? await w.payments.move({ merchantId: s.order.merchantId, id: s.paymentId }, ['pending', 'failed', 'closed'], 'succeeded', now, {
          channelTradeNo: s.channelTradeNo,
          nextCheckAt: null,
        })
      : false
    if (!opened) await w.payments.insert(payment)
    await w.events.insert(orderEvent(deps, 'order.paid', paid, now))
    return { result: 'paid', order: paid }
  })
  if (outcome.result === 'paid') {
    deps.listener.orderChanged(outcome.order)
    deps.listener.eventsWritten()
  }
  return outcome
}
