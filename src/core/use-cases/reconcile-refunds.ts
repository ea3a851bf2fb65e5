// Settles refunds whose outcome the channel did not tell us at once: asks it (queryRefund) on a backoff
// schedule until it says succeeded or failed, and sends again a refund the channel has no record of. Safe on many nodes: each check is claimed by one of them.
import type { ChannelName, Order } from '../order.ts'
import { ChannelError, type ChannelRefundState, type PaymentChannel } from '../payment-channel.ts'
import { nextRefundCheckDelay, type Refund } from '../refund.ts'
import type { RefundDeps } from './refund-deps.ts'
import { applyRefundState } from './settle-refund.ts'
import { oneStatement } from './one-statement.ts'

/** The refund sent again; a definite refusal of it fails the refund, as when it was first sent (submitRefund). */
async function resend(deps: RefundDeps, channel: PaymentChannel, refund: Refund, order: Order): Promise<ChannelRefundState> {
  try {
    const notifyUrl = deps.notifyUrl?.(refund.channel, refund.merchantId)
    return await channel.refund({ refundId: refund.id, order, amount: refund.amount, currency: refund.currency, reason: refund.reason, notifyUrl })
  } catch (err) {
    if (err instanceof ChannelError && !err.outcomeUnknown) return { status: 'failed', reason: err.message }
    throw err
  }
}

/**
 * A channel told of a refund without saying enough to settle it: the merchant's pending refund is asked about at the
 * next sweep (within the job interval) instead of at its next scheduled question. True when one was brought forward.
 */
export async function askAboutRefundNow(deps: RefundDeps, channel: ChannelName, merchantId: string, refundId: string): Promise<boolean> {
  return oneStatement(deps, (w) => w.refunds.askNow(merchantId, channel, refundId, deps.clock.now()))
}

/** One sweep over every due pending refund; returns how many this call settled. */
export async function reconcilePendingRefunds(deps: RefundDeps, batchSize = 100): Promise<number> {
  let settled = 0
  for (;;) {
    const now = deps.clock.now()
    const due = await oneStatement(deps, (w) => w.refunds.dueForCheck(now, batchSize))
    for (const refund of due) {
      const claimed = await oneStatement(deps, (w) => w.refunds.claimCheck(refund, now + nextRefundCheckDelay(refund.checkCount + 1)))
      if (!claimed) continue
      const order = await oneStatement(deps, (w) => w.orders.byId(refund.merchantId, refund.mode, refund.orderId))
      const channel = deps.channel(refund.channel)
      if (!order || !channel) continue
      let state
      try {
        state = await channel.queryRefund({ refundId: refund.id, order, requestedAt: refund.createdAt })
        // Unknown to the channel: the request never arrived (a timeout before it was sent). Failing it would free
        // the amount for a refund of another number while this one might yet arrive; it is sent again instead,
        // the same number, which the channel refunds once however often it comes.
        if (state.status === 'failed' && state.notFound) {
          const again = await resend(deps, channel, refund, order)
          // Refused, the copy of a request the channel holds: the first may still be at work (a full refund
          // closing the trade the copy then finds closed, say). Failing it would free its amount for another
          // refund while the first may yet go through: it is asked about again instead.
          state = again.status === 'failed' && state.recorded ? { status: 'pending' as const } : again
        }
      } catch {
        // Still unknown: the claim already scheduled the next question.
        continue
      }
      if (state.status === 'pending' && state.attention) deps.onRefundStuck?.(refund, state.attention)
      if ((await applyRefundState(deps, refund, state)).status !== 'pending') settled++
    }
    if (due.length < batchSize) return settled
  }
}
