// Finds out what became of channel payments nobody told us about: open attempts are asked about
// (queryPayment) on a backing-off schedule until the order expires, then their channel orders are closed;
// unexpected payments awaiting their refund are asked about (queryRefund) until it is done. Safe on many
// nodes: each check is claimed by one of them first.
import type { Order } from '../order.ts'
import type { PaymentChannel } from '../payment-channel.ts'
import type { Payment } from '../ports.ts'
import { runLimited } from '../run-limited.ts'
import { applyChannelPaymentState, closeAndSettle, flag, markRefunded, refundUnexpected, type ChannelStateOutcome } from './apply-channel-payment-state.ts'
import { nextPaymentCheckDelay, OPENING_WINDOW_MS, unexpectedRefundId, type ChannelPaymentDeps } from './channel-payment-deps.ts'
import { oneStatement } from './one-statement.ts'

export interface ReconcileResult {
  checked: number
  settled: number
}

export interface ReconcileOptions {
  batchSize?: number
  /** Channel questions in flight at once: a slow channel must not make the sweep crawl one call at a time. */
  concurrency?: number
  /** A sweep stops taking new batches after this long; what is left is picked up by the next one. */
  budgetMs?: number
}

/** One sweep over the due checks; returns how many were checked and how many reached an end. */
export async function reconcileChannelPayments(deps: ChannelPaymentDeps, options: ReconcileOptions = {}): Promise<ReconcileResult> {
  const { batchSize = 100, concurrency = 8, budgetMs = 10_000 } = options
  const result: ReconcileResult = { checked: 0, settled: 0 }
  const deadline = deps.clock.now() + budgetMs
  for (;;) {
    const now = deps.clock.now()
    const due = await oneStatement(deps, (w) => w.payments.dueForCheck(now, batchSize))
    await runLimited(due, concurrency, async (payment) => {
      const order = await oneStatement(deps, (w) => w.orders.byId(payment.merchantId, 'live', payment.orderId))
      const channel = deps.channel(payment.channel)
      if (!order || !channel) {
        // Nobody here can ask the channel. A payment to give back then waits for a person, told why (once: the
        // node whose claim won tells).
        const claimed = await oneStatement(deps, (w) => w.payments.claimCheck(payment, null))
        if (claimed && order && payment.status === 'refund_requested') await flag(deps, payment, order, `the ${payment.channel} channel is not available on this platform`)
        return
      }
      const next = now + nextPaymentCheckDelay((payment.checkCount ?? 0) + 1)
      // An open attempt is asked about no later than its order's expiry, when it is closed.
      const nextCheckAt = payment.status === 'pending' && order.status === 'pending' ? Math.min(next, Math.max(order.expiresAt, now + 1000)) : next
      if (!(await oneStatement(deps, (w) => w.payments.claimCheck(payment, nextCheckAt)))) return
      result.checked++
      const claimed = { ...payment, checkCount: (payment.checkCount ?? 0) + 1, nextCheckAt }
      try {
        if (await (payment.status === 'pending' ? checkOpen(deps, channel, claimed, order) : checkRefund(deps, channel, claimed, order))) result.settled++
      } catch {
        // The channel did not answer: the claim already scheduled the next question.
      }
    })
    if (due.length < batchSize || deps.clock.now() > deadline) return result
  }
}

async function checkOpen(deps: ChannelPaymentDeps, channel: PaymentChannel, p: Payment, order: Order): Promise<boolean> {
  const state = await channel.queryPayment({ paymentId: p.id, order })
  // Still being opened: WeChat Pay's "no such order" (read as closed) may come before our create reaches it. Only
  // while the order can be paid; once it cannot, the attempt is closed below, close first.
  const opening = !p.qrContent && deps.clock.now() - p.createdAt < OPENING_WINDOW_MS && order.status === 'pending' && order.expiresAt > deps.clock.now()
  if (state.status === 'closed' && opening) return false
  // The payment failed (WeChat Pay's PAYERROR). The customer's next try opens another attempt under another
  // number, so this one's channel order is closed first, or it could still be paid beside the new one (WeChat Pay's
  // close API: 商户订单支付失败需要生成新单号重新发起支付，要对原订单号调用关单，避免重复支付).
  if (state.status === 'failed') return settled(await closeAndSettle(deps, channel, p, order, state))
  if (state.status !== 'pending') {
    return settled(await applyChannelPaymentState(deps, { channel: p.channel, paymentId: p.id, state, merchantId: p.merchantId }))
  }
  const now = deps.clock.now()
  if (order.status === 'pending' && order.expiresAt > now) return false
  // The order can no longer be paid: its channel order is closed.
  await closeAndSettle(deps, channel, p, order, { status: 'closed' })
  return true
}

/** Whether an answer applied settles the attempt: one that names another amount or no payment of ours does not. */
const settled = (outcome: ChannelStateOutcome) => outcome !== 'amount_mismatch' && outcome !== 'unknown_payment'

async function checkRefund(deps: ChannelPaymentDeps, channel: PaymentChannel, p: Payment, order: Order): Promise<boolean> {
  // Its request was made when the payment moved to refund_requested (its last move).
  const ref = { refundId: unexpectedRefundId(p.id), order, payment: { id: p.id, channelTradeNo: p.channelTradeNo, amount: p.amount }, requestedAt: p.updatedAt }
  const state = await channel.queryRefund(ref)
  if (state.status === 'succeeded') {
    await markRefunded(deps, p, order)
    return true
  }
  // Stuck until the merchant acts at the channel (WeChat Pay's ABNORMAL): for a person, as a refused refund is.
  if (state.status === 'pending') return state.attention ? (await flag(deps, p, order, state.attention)) === 'flagged' : false
  // No such refund yet, while the request for it may still be on its way (made when the payment was recorded).
  if (deps.clock.now() - p.updatedAt < OPENING_WINDOW_MS) return false
  // The channel has no such refund: the first request never arrived. Ask again (the same refund number).
  return (await refundUnexpected(deps, channel, p, order)) !== 'pending'
}
