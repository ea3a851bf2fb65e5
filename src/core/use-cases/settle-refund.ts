// Applies a channel's word on a refund: success moves the order's amount_refunded and status, failure gives
// the reservation back; either happens once, whatever the concurrency, with its event in the same transaction.
import { ChannelError, type ChannelRefundState, type PaymentChannel } from '../payment-channel.ts'
import type { EventType } from '../events.ts'
import type { Order } from '../order.ts'
import type { Refund } from '../refund.ts'
import { orderEvent } from './order-events.ts'
import type { RefundDeps } from './refund-deps.ts'
import { oneStatement } from './one-statement.ts'

/** The webhook's data for a refund event: the refund object, with the order as it stood right after. */
export function refundEventData(deps: RefundDeps, refund: Refund, order: Order): Record<string, unknown> {
  return { ...deps.presentRefund(refund), order: deps.present(order) }
}

function refundEvent(deps: RefundDeps, type: EventType, refund: Refund, order: Order, now: number) {
  return orderEvent(deps, type, order, now, refundEventData(deps, refund, order))
}

async function current(deps: RefundDeps, refund: Refund): Promise<Refund> {
  return (await oneStatement(deps, (w) => w.refunds.byId(refund.merchantId, refund.mode, refund.id))) ?? refund
}

/** pending → succeeded: the order's amount_refunded grows and it becomes partially_refunded or refunded. */
export async function completeRefund(deps: RefundDeps, refund: Refund, channelRefundNo: string): Promise<Refund> {
  const now = deps.clock.now()
  const done = await deps.tx.transaction(async (w) => {
    if (!(await w.refunds.markSucceeded(refund, channelRefundNo, now))) return null
    // The reservation made at creation guarantees room; if it is missing, refuse the whole move.
    if (!(await w.refunds.applyToOrder(refund, now))) {
      throw new Error(`refund ${refund.id} is not covered by its order's refund reservation`)
    }
    const order = await w.orders.byId(refund.merchantId, refund.mode, refund.orderId)
    if (!order) throw new Error(`refund ${refund.id} has no order`)
    const next: Refund = { ...refund, status: 'succeeded', channelRefundNo, succeededAt: now, updatedAt: now }
    await w.events.insert(refundEvent(deps, 'refund.succeeded', next, order, now))
    return { refund: next, order }
  })
  if (!done) return current(deps, refund)
  deps.listener.orderChanged(done.order)
  deps.listener.eventsWritten()
  return done.refund
}

/** pending → failed: the amount it reserved is free to refund again. */
export async function failRefund(deps: RefundDeps, refund: Refund, reason: string): Promise<Refund> {
  const now = deps.clock.now()
  const failureReason = reason.slice(0, 500)
  const done = await deps.tx.transaction(async (w) => {
    if (!(await w.refunds.markFailed(refund, failureReason, now))) return null
    if (!(await w.refunds.releaseOnOrder(refund, now))) {
      throw new Error(`refund ${refund.id} has no reservation on its order to release`)
    }
    const order = await w.orders.byId(refund.merchantId, refund.mode, refund.orderId)
    if (!order) throw new Error(`refund ${refund.id} has no order`)
    const next: Refund = { ...refund, status: 'failed', failureReason, failedAt: now, updatedAt: now }
    await w.events.insert(refundEvent(deps, 'refund.failed', next, order, now))
    return next
  })
  if (!done) return current(deps, refund)
  deps.listener.eventsWritten()
  return done
}

/** Applies what the channel said; a pending answer changes nothing. Returns the refund as it now stands. */
export async function applyRefundState(deps: RefundDeps, refund: Refund, state: ChannelRefundState): Promise<Refund> {
  if (state.status === 'succeeded') return completeRefund(deps, refund, state.channelRefundNo)
  if (state.status === 'failed') return failRefund(deps, refund, state.reason)
  return refund
}

/**
 * Hands a pending refund to its channel, outside any transaction (a channel call must never hold one open),
 * then applies the answer. A ChannelError that says the channel did not act fails the refund; anything
 * else of unknown outcome leaves it pending for the reconciliation job to settle with queryRefund.
 */
export async function submitRefund(deps: RefundDeps, channel: PaymentChannel, refund: Refund, order: Order): Promise<Refund> {
  let state: ChannelRefundState
  try {
    state = await channel.refund({
      refundId: refund.id,
      order,
      amount: refund.amount,
      currency: refund.currency,
      reason: refund.reason,
    })
  } catch (err) {
    if (err instanceof ChannelError && !err.outcomeUnknown) {
      state = { status: 'failed', reason: `the ${channel.name} channel refused the refund: ${err.message}` }
    } else {
      return refund
    }
  }
  return applyRefundState(deps, refund, state)
}
