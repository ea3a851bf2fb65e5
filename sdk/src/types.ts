// The API's objects and parameters as TypeScript types, in the contract's own (snake_case) field names, so
// what you read in the docs is what you type.

export type Mode = 'test' | 'live'
export type OrderStatus = 'pending' | 'paid' | 'expired' | 'closed' | 'partially_refunded' | 'refunded'
export type RefundStatus = 'pending' | 'succeeded' | 'failed'
export type ChannelName = 'sandbox' | 'wechatpay' | 'alipay'
export type EventType = 'order.paid' | 'order.expired' | 'order.closed' | 'refund.succeeded' | 'refund.failed' | 'payment.unexpected'

export interface Order {
  id: string
  object: 'order'
  mode: Mode
  status: OrderStatus
  out_trade_no: string
  /** Integer minor units (CNY: fen, so 1234 is ¥12.34). */
  amount: number
  amount_refunded: number
  currency: string
  subject: string
  description: string | null
  metadata: Record<string, string>
  pay_url: string
  qr_code: { content: string; svg_url: string; png_url: string }
  channel: ChannelName | null
  channel_trade_no: string | null
  notify_url: string | null
  return_url: string | null
  created_at: string
  expires_at: string
  paid_at: string | null
  closed_at: string | null
}

export interface Refund {
  id: string
  object: 'refund'
  order_id: string
  amount: number
  currency: string
  status: RefundStatus
  out_refund_no: string
  reason: string | null
  failure_reason: string | null
  created_at: string
  succeeded_at: string | null
}

/** A refund event's data: the order as it stood right after the change, as for every event, and the refund. */
export interface RefundEventData extends Order {
  refund: Refund
}

/** The money a `payment.unexpected` event reports: a channel payment that arrived for an order no longer pending. */
export interface UnexpectedPayment {
  id: string
  object: 'payment'
  channel: Exclude<ChannelName, 'sandbox'>
  channel_trade_no: string
  /** What the customer paid, in minor units. */
  amount: number
  currency: string
  /** `refund_requested` when the event is written: ScanPay gives the money back through the channel by itself. */
  status: 'refund_requested'
  /** The refund number ScanPay gives the channel (asking again refunds once). */
  refund_id: string
}

/** A `payment.unexpected` event's data: the order as it stands (`closed`, `expired` or `paid`) and the payment. */
export interface UnexpectedPaymentEventData extends Order {
  payment: UnexpectedPayment
}

export interface DeliveryAttempt {
  at: string
  status_code: number | null
  latency_ms: number
  error: string | null
}

/** What each type of event carries in `data`. */
export interface EventDataByType {
  'order.paid': Order
  'order.expired': Order
  'order.closed': Order
  'refund.succeeded': RefundEventData
  'refund.failed': RefundEventData
  'payment.unexpected': UnexpectedPaymentEventData
}

/** An event as `events.list` and `events.retrieve` answer it: check `type`, and `data` is typed to match. */
export type AnyEvent = { [K in EventType]: Event<EventDataByType[K]> & { type: K } }[EventType]

export interface Event<T = unknown> {
  id: string
  object: 'event'
  type: EventType
  order_id: string
  created_at: string
  data: T
  delivery_status: 'pending' | 'delivered' | 'failed'
  attempts: DeliveryAttempt[]
}

export interface List<T> {
  object: 'list'
  data: T[]
  has_more: boolean
  next_cursor: string | null
}

export interface CreateOrderParams {
  out_trade_no: string
  amount: number
  subject: string
  currency?: string
  description?: string | null
  notify_url?: string | null
  return_url?: string | null
  /** Seconds, 60-86400 (default 900). */
  expires_in?: number
  channels?: ChannelName[]
  metadata?: Record<string, string>
}

export interface ListParams {
  /** 1-100 (default 10). */
  limit?: number
  cursor?: string
}

export interface ListOrdersParams extends ListParams {
  out_trade_no?: string
  status?: OrderStatus
  /** ISO 8601 time, unix seconds, or a Date. */
  created_gte?: string | number | Date
  created_lt?: string | number | Date
}

export interface ListEventsParams extends ListParams {
  order_id?: string
}

export interface BillDiscrepancy {
  kind:
    | 'unknown_payment'
    | 'not_recorded_as_paid'
    | 'amount_mismatch'
    | 'trade_no_mismatch'
    | 'unknown_refund'
    | 'refund_not_recorded_as_succeeded'
    | 'refund_recorded_as_succeeded'
    | 'refund_amount_mismatch'
    | 'missing_from_bill'
    | 'refund_missing_from_bill'
  payment_id: string
  order_id: string | null
  channel_trade_no: string | null
  /** In fen: the bill line's, or for missing_from_bill and refund_missing_from_bill ScanPay's own. */
  amount: number
  /** The refund's number in the bill (ScanPay's refund id when ScanPay made it). */
  refund_no: string | null
  /** ScanPay's refund the line was compared with, or the refund missing from the bill. */
  refund_id: string | null
  our_amount: number | null
  our_channel_trade_no: string | null
  our_payment_status: string | null
  our_refund_status: string | null
  /** missing_from_bill: when ScanPay recorded the order paid. */
  paid_at: string | null
  /** refund_missing_from_bill: when ScanPay recorded the refund succeeded. */
  refund_succeeded_at: string | null
  /** missing_from_bill, refund_missing_from_bill: what the channel, asked, said of it. */
  channel_status: string | null
  /** The same: the day the channel dates it on, when not the bill's; that day's bill lacks it too. */
  channel_bill_date: string | null
}

/** One day's check of a channel's bill against the merchant's payments (live mode). */
export interface BillCheck {
  object: 'bill_check'
  channel: 'wechatpay' | 'alipay'
  /** The Beijing day, yyyy-MM-dd. */
  bill_date: string
  status: 'running' | 'matched' | 'discrepancies' | 'failed'
  attempts: number
  lines: number | null
  discrepancies: number | null
  discrepancy_details: BillDiscrepancy[]
  last_error: string | null
  /** A failed check's next attempt; null when none is coming. */
  next_attempt_at: string | null
  updated_at: string
}

export interface ListBillChecksParams extends ListParams {
  channel?: 'wechatpay' | 'alipay'
  status?: BillCheck['status']
}

export interface CreateRefundParams {
  amount: number
  out_refund_no: string
  reason?: string | null
}

/** What a webhook's body carries. */
export interface WebhookEvent<T = any> {
  id: string
  type: EventType
  timestamp: string
  data: T
}
