// Closes a pending order at the merchant's request (its open channel orders are closed right after); closing a
// closed order returns it unchanged.
import { AppError } from '../errors.ts'
import type { Order } from '../order.ts'
import type { UseCaseDeps } from './context.ts'
import { expireOrder } from './expire-orders.ts'
import { readOrder } from './one-statement.ts'
import { orderEvent } from './order-events.ts'

export async function closeOrder(deps: UseCaseDeps, order: Order): Promise<Order> {
  const now = deps.clock.now()
  if (order.status === 'pending' && order.expiresAt <= now) {
    // Its time ran out before the expiry job reached it: it expires now, and cannot be closed.
    order = await expireOrder(deps, order)
  }
  const closed: Order = { ...order, status: 'closed', closedAt: now, updatedAt: now }
  const c = deps.tx.changes
  const unmet = await deps.tx.applyChanges([
    c.markClosed(order, now),
    c.insertEvent(orderEvent(deps, 'order.closed', closed, now)),
    // Channel orders opened for it must stop taking money at once, not at their next scheduled check (up to five
    // minutes on): the reconciler's next pass, within one job interval, asks the channel and closes them.
    c.paymentsDueNow(order, now),
  ])
  if (unmet === null) {
    deps.listener.orderChanged(closed)
    deps.listener.eventsWritten()
    return closed
  }
  const current = (await readOrder(deps, order)) ?? order
  if (current.status === 'closed') return current
  if (current.status === 'expired') throw new AppError('order_not_pending', 'the order has expired and cannot be closed')
  throw new AppError('order_paid', `the order is ${current.status} and cannot be closed`)
}
