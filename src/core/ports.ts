// What the use cases need from the outside world. Storage, the clock and channels implement these.
import type { DeliveryAttempt, NewEvent, StoredEvent } from './events.ts'
import type { ChannelName, Mode, Order, OrderStatus } from './order.ts'
import type { Refund } from './refund.ts'

export interface Clock {
  now(): number
}

export interface Payment {
  id: string
  merchantId: string
  orderId: string
  channel: ChannelName
  status: PaymentStatus
  amount: number
  currency: string
  channelTradeNo: string | null
  unexpected: boolean
  createdAt: number
  updatedAt: number
  /** What the customer's app scans for this attempt (a channel's code_url / qr_code), once opened. */
  qrContent?: string | null
  /** When the reconciler next asks the channel about this attempt while it is open; null when not due. */
  nextCheckAt?: number | null
  checkCount?: number
  /** Why the channel refused to refund this unexpected payment, while it waits for a person; null otherwise. */
  refundRefusedReason?: string | null
}

/**
 * pending: the channel order is open. succeeded: the channel took the money. failed / closed: it will not.
 * refund_requested / refunded: an unexpected success (the order was no longer pending) being given back.
 */
export type PaymentStatus = 'pending' | 'succeeded' | 'failed' | 'closed' | 'refund_requested' | 'refunded'

export interface OrderListFilter {
  merchantId: string
  mode: Mode
  status?: OrderStatus
  /** Only orders that expire after this time: pending ones still payable, not those past their deadline. */
  expiresAfter?: number
  outTradeNo?: string
  createdGte?: number
  createdLt?: number
  /** Keyset position: rows strictly older than (createdAt, id). */
  before?: { createdAt: number; id: string }
  limit: number
}

/**
 * What a list page shows of an order. Reading fewer columns is a large part of a page's cost (each column of
 * each row is a value the driver makes), so a list leaves out what no page shows.
 */
export type ListedOrder = Omit<Order, 'merchantId' | 'channels' | 'requestHash' | 'updatedAt'>

export interface OrderStore {
  /** Inserts unless (merchant, mode, out_trade_no) exists; true when this call inserted it. */
  insertIfAbsent(order: Order): Promise<boolean>
  byId(merchantId: string, mode: Mode, id: string): Promise<Order | null>
  byOutTradeNo(merchantId: string, mode: Mode, outTradeNo: string): Promise<Order | null>
  byToken(token: string): Promise<Order | null>
  list(filter: OrderListFilter): Promise<ListedOrder[]>
  /** Pending orders whose expires_at has passed, oldest first. */
  duePendingExpiry(now: number, limit: number): Promise<Order[]>
  countPending(): Promise<number>
  /** Whose order an id is, for an operator who has only the id (ids are unique across merchants). */
  ownerOf(id: string): Promise<{ merchantId: string; mode: Mode } | null>
}

/** What a payment's move may set besides its status. */
export interface PaymentMoveFields {
  channelTradeNo?: string
  unexpected?: boolean
  nextCheckAt?: number | null
  refundRefusedReason?: string | null
}

/** A payment that paid its order (not an unexpected one), as the bill check reads it; paidAt is the order's. */
export interface OrderPayment {
  id: string
  orderId: string
  amount: number
  channelTradeNo: string | null
  paidAt: number
}

/** A succeeded refund of the payment that paid its order, as the bill check reads it. */
export interface PaymentRefund {
  id: string
  orderId: string
  paymentId: string
  channelTradeNo: string | null
  amount: number
  createdAt: number
  succeededAt: number
}

export interface PaymentStore {
  insert(payment: Payment): Promise<void>
  /** By our payment id alone: it is the channel's out_trade_no, so a notification names it. */
  byId(id: string): Promise<Payment | null>
  /** The open (pending) attempt of an order through a channel, newest first. */
  openAttempt(merchantId: string, orderId: string, channel: ChannelName): Promise<Payment | null>
  /**
   * Inserts a new open (pending) attempt unless the order already has one through that channel (a concurrent
   * opener's, inserted first): true when this call inserted it. One statement.
   */
  insertOpen(payment: Payment): Promise<boolean>
  /** Keeps the code the channel gave an open attempt; false when the attempt is no longer open (not kept). */
  setQrContent(payment: Payment, qrContent: string, now: number): Promise<boolean>
  /** Conditional move of one attempt: only from one of `from`; false when another writer got there first. */
  move(
    payment: Pick<Payment, 'merchantId' | 'id'>,
    from: readonly PaymentStatus[],
    to: PaymentStatus,
    now: number,
    set?: PaymentMoveFields,
  ): Promise<boolean>
  /** Open attempts and unexpected payments awaiting their refund whose next check is due, oldest first. */
  dueForCheck(now: number, limit: number): Promise<Payment[]>
  /** Claims the next check (so one node asks the channel), pushing the one after to nextCheckAt. */
  claimCheck(payment: Payment, nextCheckAt: number | null): Promise<boolean>
  /** The order's payments that arrived after it stopped taking money, oldest first. */
  unexpectedOf(merchantId: string, orderId: string): Promise<Payment[]>
  /** Every channel attempt of the order, oldest first. */
  ofOrder(merchantId: string, orderId: string): Promise<Payment[]>
  /** Unexpected payments whose money is not given back yet (refund_requested), oldest first. */
  awaitingRefund(filter: { merchantId?: string; limit: number }): Promise<Payment[]>
  /**
   * How many of those wait for a person (the channel refused) and how many the reconciler still follows, and
   * since when the oldest of them all has waited (its last move; null: none).
   */
  unrefundedSummary(): Promise<{ awaitingPerson: number; inProgress: number; oldestSince: number | null }>
  /**
   * The payments that paid a merchant's live orders through `channel`, of the orders paid (paidAt: the channel's
   * time of payment where it gave one) from `from` until before `to`.
   */
  paidThrough(merchantId: string, channel: ChannelName, from: number, to: number): Promise<OrderPayment[]>
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

export interface RefundListFilter {
  merchantId: string
  mode: Mode
  orderId: string
  before?: { createdAt: number; id: string }
  limit: number
}

/**
 * Refunds, and the refund accounting on their order's row (amount_refund_reserved, amount_refunded and the
 * refund statuses). Every move is a conditional UPDATE whose row count says who won.
 */
export interface RefundStore {
  byId(merchantId: string, mode: Mode, id: string): Promise<Refund | null>
  byOutRefundNo(merchantId: string, mode: Mode, outRefundNo: string): Promise<Refund | null>
  /** Whose refund an id is, and of which order, for an operator who has only the id. */
  ownerOf(id: string): Promise<{ merchantId: string; orderId: string } | null>
  listForOrder(filter: RefundListFilter): Promise<Refund[]>
  /** Pending refunds whose next check is due, oldest first. */
  dueForCheck(now: number, limit: number): Promise<Refund[]>
  /** Claims the next check of a pending refund (so one node asks the channel), pushing the one after back. */
  claimCheck(refund: Refund, nextCheckAt: number): Promise<boolean>
  /** Live refunds waiting for their channel's final word, oldest first, of one merchant or all. */
  pendingList(filter: { merchantId?: string; limit: number }): Promise<Refund[]>
  /** How many live refunds wait for their channel's final word, and since when the oldest (null: none). */
  pendingSummary(): Promise<{ count: number; oldestCreatedAt: number | null }>
  /**
   * Brings a pending live refund's next question to the channel forward to `now`, when it was later; false when
   * there is no such pending refund of the merchant's through that channel.
   */
  askNow(merchantId: string, channel: ChannelName, id: string, now: number): Promise<boolean>
  /** The merchant's live refunds through the channel that succeeded from `from` until before `to`, with their payments. */
  succeededThrough(merchantId: string, channel: ChannelName, from: number, to: number): Promise<PaymentRefund[]>
}

/** The stores a use case may touch inside one transaction. */
export interface UnitOfWork {
  orders: OrderStore
  payments: PaymentStore
  events: EventStore
  refunds: RefundStore
}

/**
 * A write that must change a row before the write it guards is made: a signed request's nonce claim, carried to
 * the order insert it protects. On SQLite both share one commit, or neither is made. On PostgreSQL the claim
 * commits first and the insert joins the shared multi-row insert: if that insert then fails, the nonce stays spent,
 * as it does for every other signed request that fails after its claim (a client retries with a fresh nonce).
 */
export interface WriteGuard {
  /** The storage's own statement for the guard; from this call on the guard counts as used. */
  take(): unknown
  /** What the guarded call throws when the guard changed nothing (and so nothing was written). */
  refused(): Error
}

/** A write the storage has prepared without making it, for Transactor.applyChanges; opaque to the core. */
export type Change = { readonly __change: unique symbol }

/**
 * The writes a use case may hand to Transactor.applyChanges. An order moves out of `pending` by a conditional
 * write: it changes nothing when another writer got there first.
 */
export interface Changes {
  /** Only while the order is pending and not yet expired. */
  markPaid(order: Order, channel: ChannelName, channelTradeNo: string, now: number): Change
  /** Only while the order is pending. */
  markClosed(order: Order, now: number): Change
  /** Only while the order is pending and past expires_at. */
  markExpired(order: Order, now: number): Change
  /**
   * The order's open channel attempts fall due for a check now (it was closed: their channel orders must close).
   * There may be none: this change never undoes the others.
   */
  paymentsDueNow(order: Order, now: number): Change
  /**
   * A succeeded payment: a new row, or the existing row of that id moved to succeeded if its status is one
   * of `reopenFrom` (a channel attempt opened earlier). An existing row in another status changes nothing.
   */
  succeededPayment(payment: Payment, reopenFrom: readonly PaymentStatus[]): Change
  /** PaymentStore.move as a change: changes nothing unless the payment's status is one of `from`. */
  movePayment(payment: Pick<Payment, 'merchantId' | 'id'>, from: readonly PaymentStatus[], to: PaymentStatus, now: number, set?: PaymentMoveFields): Change
  insertEvent(event: NewEvent): Change
  /** A new refund; changes nothing when (merchant, mode, out_refund_no) exists. */
  insertRefund(refund: Refund): Change
  /**
   * Reserves `amount` of the order for a new refund, only while the order is paid or partially refunded and
   * its pending and succeeded refunds stay within what was paid; changes nothing when refused.
   */
  reserveRefund(order: Pick<Order, 'merchantId' | 'id'>, amount: number, now: number): Change
  /** The refund moves from pending to succeeded; changes nothing when it is no longer pending. */
  refundSucceeded(refund: Refund, channelRefundNo: string, now: number): Change
  /** The refund moves from pending to failed; changes nothing when it is no longer pending. */
  refundFailed(refund: Refund, reason: string, now: number): Change
  /**
   * A succeeded refund added to its order's amount_refunded (the order becomes partially_refunded or refunded),
   * within the order's reservation; changes nothing unless amount_refunded is still `refundedBefore`.
   */
  applyRefund(refund: Refund, refundedBefore: number, now: number): Change
  /** A failed refund's reservation given back; changes nothing unless amount_refunded is still `refundedBefore`. */
  releaseRefund(refund: Refund, refundedBefore: number, now: number): Change
}

export interface Transactor {
  /** Runs fn in one database transaction: everything it writes commits together or not at all. */
  transaction<T>(fn: (work: UnitOfWork) => Promise<T>): Promise<T>
  readonly changes: Changes
  /**
   * Makes every change in one transaction, or none: each must change a row (paymentsDueNow excepted), and the
   * first that changes none undoes them all. Resolves once durable, with null when all were made, else the index of that change. For
   * a transaction whose writes need no reads between them: the storage can send it whole (on SQLite one
   * message to its writer thread instead of a round trip per statement while holding the writer).
   */
  applyChanges(changes: readonly Change[]): Promise<number | null>
  /**
   * Inserts a new order on its own, unless (merchant, mode, out_trade_no) exists: true when this call inserted
   * it. Durable on return; concurrent calls may share one statement. With a guard, the insert is tried only if
   * the guard's write changed a row; otherwise it throws guard.refused().
   */
  insertOrder(order: Order, guard?: WriteGuard): Promise<boolean>
  /**
   * For fn that issues exactly one statement, atomic by itself: durable on return like a transaction, but
   * free to skip BEGIN/COMMIT (on PostgreSQL two of an insert's three round trips). Optional: without it,
   * callers use transaction().
   */
  statement?<T>(fn: (work: UnitOfWork) => Promise<T>): Promise<T>
}

/** Told after a commit that an order changed, so live views (SSE) and the dispatcher react at once. */
export interface ChangeListener {
  orderChanged(order: Order): void
  eventsWritten(): void
}
