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

/**
 * The webhook's data for a refund event: the order object as it stood right after (the contract's `data` for every
 * event), with the refund that moved it as `refund`, as `payment.unexpected` carries its `payment`.
 */
export function refundEventData(deps: RefundDeps, refund: Refund, order: Order): Record<string, unknown> {
  return { ...(deps.present(order) as Record<string, unknown>), refund: deps.presentRefund(refund) }
}

function refundEvent(deps: RefundDeps, type: EventType, refund: Refund, order: Order, now: number) {
  return orderEvent(deps, type, order, now, refundEventData(deps, refund, order))
}

async function current(deps: RefundDeps, refund: Refund): Promise<Refund> {
  return (await oneStatement(deps, (w) => w.refunds.byId(refund.merchantId, refund.mode, refund.id))) ?? refund
}

/** Reads of the order a settlement makes at most, when other refunds of the same order keep moving it. */
const SETTLE_READS = 50

/** A refund's settlement at a time: its own move, its order's, and the event that reports both. */
interface Settlement {
  /** The refund as the settlement leaves it. */
  next: Refund
  /** The refund's move: it changes nothing once the refund is no longer pending. */
  refundMove: Change
  /** The order's move from the order as read, and the order it leaves. */
  orderMove(before: Order): { change: Change; after: Order }
  /** Why the order refuses the move when it does so with nothing moved in between. */
  uncovered: string
}

/**
 * Settles a pending refund as one unit of changes sent whole, so no transaction is held open while the order
 * is read (on SQLite that held the writer): the refund's move, the order's and the event that reports them,
 * the event written from the order as read. The order's move is conditional on its amount_refunded still being
 * what was read, so the event says what was written; when another refund moved it meanwhile, the order is read
 * again. Returns the refund as it now stands (another settlement's, if that came first).
 */
async function settle(deps: RefundDeps, refund: Refund, type: EventType, settlement: (now: number) => Settlement): Promise<Refund> {
  const now = deps.clock.now()
  const s = settlement(now)
  let refundedAtRefusal: number | null = null
  for (let read = 0; read < SETTLE_READS; read++) {
    const before = await oneStatement(deps, (w) => w.orders.byId(refund.merchantId, refund.mode, refund.orderId))
    if (!before) throw new Error(`refund ${refund.id} has no order`)
    const { change, after } = s.orderMove(before)
    const event = deps.tx.changes.insertEvent(refundEvent(deps, type, s.next, after, now))
    const unmet = await deps.tx.applyChanges([s.refundMove, change, event])
    if (unmet === null) {
      deps.listener.orderChanged(after)
      deps.listener.eventsWritten()
      return s.next
    }
    if (unmet === 0) return current(deps, refund)
    // Refused twice by the order as it stood: not a race, the order itself refuses (no reservation covers it).
    if (before.amountRefunded === refundedAtRefusal) throw new Error(s.uncovered)
    refundedAtRefusal = before.amountRefunded
  }
  throw new Error(`refund ${refund.id}: its order kept moving; gave up settling it after ${SETTLE_READS} reads`)
}

/** pending → succeeded: the order's amount_refunded grows and it becomes partially_refunded or refunded. */
export function completeRefund(deps: RefundDeps, refund: Refund, channelRefundNo: string): Promise<Refund> {
  return settle(deps, refund, 'refund.succeeded', (now) => ({
    next: { ...refund, status: 'succeeded', channelRefundNo, succeededAt: now, updatedAt: now },
    refundMove: deps.tx.changes.refundSucceeded(refund, channelRefundNo, now),
    orderMove: (before) => {
      const refunded = before.amountRefunded + refund.amount
      const status = refunded >= before.amount ? 'refunded' : 'partially_refunded'
      return { change: deps.tx.changes.applyRefund(refund, before.amountRefunded, now), after: { ...before, amountRefunded: refunded, status, updatedAt: now } }
    },
    // The reservation made at creation guarantees room; if it is missing, the whole move is refused.
    uncovered: `refund ${refund.id} is not covered by its order's refund reservation`,
  }))
}

/** pending → failed: the amount it reserved is free to refund again. */
export function failRefund(deps: RefundDeps, refund: Refund, reason: string): Promise<Refund> {
  const failureReason = reason.slice(0, 500)
  return settle(deps, refund, 'refund.failed', (now) => ({
    next: { ...refund, status: 'failed', failureReason, failedAt: now, updatedAt: now },
    refundMove: deps.tx.changes.refundFailed(refund, failureReason, now),
    orderMove: (before) => ({ change: deps.tx.changes.releaseRefund(refund, before.amountRefunded, now), after: { ...before, updatedAt: now } }),
    uncovered: `refund ${refund.id} has no reservation on its order to release`,
  }))
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
 * else of unknown outcome leaves it pending for the reconciliation job to settle with queryRefund. So does an
 * answer that could not be recorded (the database failed meanwhile): the refund is written and the channel may
 * have made it, so its caller must hear "pending", never an error that reads as nothing having happened (a
 * merchant would refund again).
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
      notifyUrl: deps.notifyUrl?.(refund.channel, refund.merchantId),
    })
  } catch (err) {
    if (err instanceof ChannelError && !err.outcomeUnknown) {
      state = { status: 'failed', reason: `the ${channel.name} channel refused the refund: ${err.message}` }
    } else {
      return refund
    }
  }
  try {
    return await applyRefundState(deps, refund, state)
  } catch (err) {
    deps.onSettleFailed?.(refund, err)
    return refund
  }
}
