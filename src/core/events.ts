// Events: what happened to an order, written in the same transaction as the change and delivered as webhooks.

export const EVENT_TYPES = ['order.paid', 'order.expired', 'order.closed', 'refund.succeeded', 'refund.failed', 'payment.unexpected'] as const
export type EventType = (typeof EVENT_TYPES)[number]

export type DeliveryStatus = 'pending' | 'delivered' | 'failed'

export interface NewEvent {
  id: string
  merchantId: string
  mode: 'test' | 'live'
  orderId: string
  type: EventType
  /** The JSON object the webhook's `data` carries, frozen at the moment of the change. */
  data: unknown
  /** The order's notify_url; null sends to the merchant's default URL. */
  notifyUrl: string | null
  createdAt: number
}

export interface StoredEvent extends NewEvent {
  deliveryStatus: DeliveryStatus
  attemptCount: number
  nextAttemptAt: number | null
}

export interface DeliveryAttempt {
  at: number
  statusCode: number | null
  latencyMs: number
  error: string | null
}
