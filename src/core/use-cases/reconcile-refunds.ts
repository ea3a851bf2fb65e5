// Settles refunds whose outcome the channel did not tell us at once: asks it (queryRefund) on a backoff
// schedule until it says succeeded or failed. Safe on many nodes: each check is claimed by one of them.
import { nextRefundCheckDelay } from '../refund.ts'
import type { RefundDeps } from './refund-deps.ts'
import { applyRefundState } from './settle-refund.ts'
import { oneStatement } from './one-statement.ts'

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
        state = await channel.queryRefund({ refundId: refund.id, order })
      } catch {
        // Still unknown: the claim already scheduled the next question.
        continue
      }
      if ((await applyRefundState(deps, refund, state)).status !== 'pending') settled++
    }
    if (due.length < batchSize) return settled
  }
}
