// Every column of the tables read whole, by name. A statement that names its columns keeps its result when a
// migration adds one, so PostgreSQL may run it as a prepared statement (pg-prepared.ts leaves `*` unnamed).
import type { Database } from './schema.ts'

type Column<T extends keyof Database> = keyof Database[T] & string

/** The list as given; it does not compile unless it names every column of table T. */
const every =
  <T extends keyof Database>() =>
  <const L extends readonly Column<T>[]>(list: L & ([Exclude<Column<T>, L[number]>] extends [never] ? unknown : { missing: Exclude<Column<T>, L[number]> })): L =>
    list

export const ORDER_COLUMNS = every<'orders'>()([
  'id', 'merchant_id', 'mode', 'status', 'out_trade_no', 'amount', 'amount_refunded', 'amount_refund_reserved', 'currency',
  'subject', 'description', 'metadata', 'channels', 'notify_url', 'return_url', 'pay_token', 'channel', 'channel_trade_no',
  'request_hash', 'created_at', 'expires_at', 'paid_at', 'closed_at', 'updated_at',
])

export const EVENT_COLUMNS = every<'events'>()([
  'id', 'merchant_id', 'mode', 'order_id', 'type', 'data', 'notify_url', 'created_at', 'delivery_status', 'attempt_count',
  'next_attempt_at', 'locked_until', 'one_shot',
])

export const REFUND_COLUMNS = every<'refunds'>()([
  'id', 'merchant_id', 'mode', 'order_id', 'amount', 'currency', 'status', 'out_refund_no', 'reason', 'failure_reason',
  'channel', 'channel_refund_no', 'request_hash', 'created_at', 'succeeded_at', 'failed_at', 'updated_at', 'next_check_at',
  'check_count',
])

export const PAYMENT_COLUMNS = every<'payments'>()([
  'id', 'merchant_id', 'order_id', 'channel', 'status', 'amount', 'currency', 'channel_trade_no', 'unexpected', 'created_at',
  'updated_at', 'qr_content', 'next_check_at', 'check_count', 'refund_refused_reason',
])
