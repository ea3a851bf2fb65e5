// Pending orders past expires_at become expired, once, with order.expired, without anyone asking.
import type { Order } from '../order.ts'
import type { UseCaseDeps } from './context.ts'
import { orderEvent } from './order-events.ts'
import { oneStatement, readOrder } from './one-statement.ts'

/** Expires one order if it is still pending and due; returns the order as it now stands. */
export async function expireOrder(deps: UseCaseDeps, order: Order): Promise<Order> {
  return (await expireIfDue(deps, order)).order
}

async function expireIfDue(deps: UseCaseDeps, order: Order): Promise<{ order: Order; moved: boolean }> {
  const now = deps.clock.now()
  const expired: Order = { ...order, status: 'expired', updatedAt: now }
  const unmet = await deps.tx.applyChanges([deps.tx.changes.markExpired(order, now), deps.tx.changes.insertEvent(orderEvent(deps, 'order.expired', expired, now))])
  if (unmet === null) {
    deps.listener.orderChanged(expired)
    deps.listener.eventsWritten()
    return { order: expired, moved: true }
  }
  return { order: (await readOrder(deps, order)) ?? order, moved: false }
}

/** One sweep: expires every due order in batches; returns how many this call moved. */
export async function expireDueOrders(deps: UseCaseDeps, batchSize = 200): Promise<number> {
  let moved = 0
  for (;;) {
    const due = await oneStatement(deps, (w) => w.orders.duePendingExpiry(deps.clock.now(), batchSize))
    for (const order of due) {
      if ((await expireIfDue(deps, order)).moved) moved++
    }
    if (due.length < batchSize) return moved
  }
}
