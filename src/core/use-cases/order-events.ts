// Builds the event that reports an order's change, frozen with the order as it now stands.
import type { EventType, NewEvent } from '../events.ts'
import { newId } from '../ids.ts'
import type { Order } from '../order.ts'
import type { UseCaseDeps } from './context.ts'

export function orderEvent(deps: UseCaseDeps, type: EventType, order: Order, now: number, data?: unknown): NewEvent {
  return {
    id: newId('evt', now),
    merchantId: order.merchantId,
    mode: order.mode,
    orderId: order.id,
    type,
    data: data ?? deps.present(order),
    notifyUrl: order.notifyUrl,
    createdAt: now,
  }
}
