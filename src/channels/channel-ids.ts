// What an identifier from a channel must look like before ScanPay looks it up or stores it: printable ASCII of a
// length its column holds. Even a verified message can carry one that does not (PostgreSQL refuses NUL and an
// over-long varchar, where SQLite would store it), and what cannot be stored must not be acknowledged.

/** A channel's trade number (WeChat Pay's transaction_id, Alipay's trade_no): `payments.channel_trade_no`. */
export const TRADE_NO_MAX = 64
/** ScanPay's payment id as the channel gives it back (out_trade_no): `payments.id`. */
export const PAYMENT_ID_MAX = 40
/** ScanPay's refund id as the channel gives it back (out_refund_no): `refunds.id`. */
export const REFUND_ID_MAX = 40
/** A notification's own id (WeChat Pay's id, Alipay's notify_id): `channel_notifications.notification_id`. */
export const NOTIFICATION_ID_MAX = 128

export function isChannelId(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length >= 1 && value.length <= max && /^[\x21-\x7e]+$/.test(value)
}
