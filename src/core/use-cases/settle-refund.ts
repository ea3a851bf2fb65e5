// Applies a channel's word on a refund: success moves the order's amount_refunded and status, failure gives
// the reservation back; either happens once, whatever the concurrency, with its event in the same unit of changes.
import { ChannelError, type ChannelRefundState, type PaymentChannel } from '../payment-channel.ts'
import type { EventType } from '../events.ts'
import type { Order } from '../order.ts'
import type { Refund } from '../refund.ts'
import type { Change } from '../ports.ts'
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

/** Reads of the order a settlement makes at most, when other refunds of the same order keep moving it. */
const SETTLE_READS = 50

/**
 * Settles a pending refund as one unit of changes sent whole, so no transaction is held open while the order
 * is read (on SQLite that held the writer): the refund's move, the order's and the event that reports them,
 * the event written from the order as read. The order's move is conditional on its amount_refunded still being
 * what was read, so the event says what was written; when another refund moved it meanwhile, the order is read
 * again. Returns the order after, or null when the refund was no longer pending.
 */
async function settle(
  deps: RefundDeps,
  refund: Refund,
  uncovered: string,
  plan: (before: Order) => { changes: readonly Change[]; after: Order },
): Promise<Order | null> {
  let refundedAtRefusal: number | null = null
  for (let read = 0; read < SETTLE_READS; read++) {
    const before = await oneStatement(deps, (w) => w.orders.byId(refund.merchantId, refund.mode, refund.orderId))
    if (!before) throw new Error(`refund ${refund.id} has no order`)
    const { changes, after } = plan(before)
    const unmet = await deps.tx.applyChanges(changes)
    if (unmet === null) return after
    if (unmet === 0) return null
    // Refused twice by the order as it stood: not a race, the order itself refuses (no reservation covers it).
    if (before.amountRefunded === refundedAtRefusal) throw new Error(uncovered)
    refundedAtRefusal = before.amountRefunded
  }
  throw new Error(`refund ${refund.id}: its order kept moving; gave up settling it after ${SETTLE_READS} reads`)
}

/** pending → succeeded: the order's amount_refunded grows and it becomes partially_refunded or refunded. */
export async function completeRefund(deps: RefundDeps, refund: Refund, channelRefundNo: string): Promise<Refund> {
  const now = deps.clock.now()
  const next: Refund = { ...refund, status: 'succeeded', channelRefundNo, succeededAt: now, updatedAt: now }
  const c = deps.tx.changes
  // The reservation made at creation guarantees room; if it is missing, the whole move is refused.
  const order = await settle(deps, refund, `refund ${refund.id} is not covered by its order's refund reservation`, (before) => {
    const refunded = before.amountRefunded + refund.amount
    const after: Order = { ...before, amountRefunded: refunded, status: refunded >= before.amount ? 'refunded' : 'partially_refunded', updatedAt: now }
    return {
      after,
      changes: [
        c.refundSucceeded(refund, channelRefundNo, now),
        c.applyRefund(refund, before.amountRefunded, now),
        c.insertEvent(refundEvent(deps, 'refund.succeeded', next, after, now)),
      ],
    }
  })
  if (!order) return current(deps, refund)
  deps.listener.orderChanged(order)
  deps.listener.eventsWritten()
  return next
}

/** pending → failed: the amount it reserved is free to refund again. */
export async function failRefund(deps: RefundDeps, refund: Refund, reason: string): Promise<Refund> {
  const now = deps.clock.now()
  const failureReason = reason.slice(0, 500)
  const next: Refund = { ...refund, status: 'failed', failureReason, failedAt: now, updatedAt: now }
  const c = deps.tx.changes
  const order = await settle(deps, refund, `refund ${refund.id} has no reservation on its order to release`, (before) => {
    const after: Order = { ...before, updatedAt: now }
    return {
      after,
      changes: [
        c.refundFailed(refund, failureReason, now),
        c.releaseRefund(refund, before.amountRefunded, now),
        c.insertEvent(refundEvent(deps, 'refund.failed', next, after, now)),
      ],
    }
  })
  if (!order) return current(deps, refund)
  deps.listener.eventsWritten()
  return next
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
