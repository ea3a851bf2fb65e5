// What the use cases need from the outside world. Storage, the clock and channels implement these.
import type { DeliveryAttempt, NewEvent, StoredEvent } from './events.ts'
import type { ChannelName, Mode, Order, OrderStatus } from './order.ts'

export interface Clock {
  now(): number
}

export interface Payment {
  id: string
  merchantId: string
  orderId: string
  channel: ChannelName
  status: 'pending' | 'succeeded' | 'failed' | 'closed'
  amount: number
  currency: string
  channelTradeNo: string | null
  unexpected: boolean
  createdAt: number
  updatedAt: number
}

export interface OrderListFilter {
  merchantId: string
  mode: Mode
  status?: OrderStatus
  outTradeNo?: string
  createdGte?: number
  createdLt?: number
  /** Keyset position: rows strictly older than (createdAt, id). */
  before?: { createdAt: number; id: string }
  limit: number
}

export interface OrderStore {
  /** Inserts unless (merchant, mode, out_trade_no) exists; true when this call inserted it. */
  insertIfAbsent(order: Order): Promise<boolean>
  byId(merchantId: string, mode: Mode, id: string): Promise<Order | null>
  byOutTradeNo(merchantId: string, mode: Mode, outTradeNo: string): Promise<Order | null>
  byToken(token: string): Promise<Order | null>
  list(filter: OrderListFilter): Promise<Order[]>
  /** Conditional move out of `pending`; false when another writer got there first (or it had expired). */
  markPaid(order: Order, channel: ChannelName, channelTradeNo: string, now: number): Promise<boolean>
  markClosed(order: Order, now: number): Promise<boolean>
  markExpired(order: Order, now: number): Promise<boolean>
  /** Pending orders whose expires_at has passed, oldest first. */
  duePendingExpiry(now: number, limit: number): Promise<Order[]>
  countByStatus(): Promise<Record<string, number>>
}

export interface PaymentStore {
  insert(payment: Payment): Promise<void>
}

export interface EventListFilter {
  merchantId: string
  mode: Mode
  orderId?: string
  before?: { createdAt: number; id: string }
  limit: number
}

export interface EventStore {
  insert(event: NewEvent): Promise<void>
  byId(merchantId: string, mode: Mode, id: string): Promise<StoredEvent | null>
  list(filter: EventListFilter): Promise<StoredEvent[]>
  attempts(merchantId: string, eventId: string): Promise<DeliveryAttempt[]>
  /** Queues one more delivery attempt now. */
  requestRedelivery(merchantId: string, id: string, now: number): Promise<boolean>
}

/** The stores a use case may touch inside one transaction. */
export interface UnitOfWork {
  orders: OrderStore
  payments: PaymentStore
  events: EventStore
}

export interface Transactor {
  /** Runs fn in one database transaction: everything it writes commits together or not at all. */
  transaction<T>(fn: (work: UnitOfWork) => Promise<T>): Promise<T>
}

/** Told after a commit that an order changed, so live views (SSE) and the dispatcher react at once. */
export interface ChangeListener {
  orderChanged(order: Order): void
  eventsWritten(): void
}
