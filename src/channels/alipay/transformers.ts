// Alipay wire types and the mapping to and from ScanPay's: statuses, and money as "12.34" yuan strings
// converted from and to integer fen by string arithmetic only.
import type { Order } from '../../core/order.ts'
import type { ChannelPaymentState } from '../../core/payment-channel.ts'
import { isChannelId, TRADE_NO_MAX } from '../channel-ids.ts'
import { firstCharacters } from '../characters.ts'
import { parseAlipayTime } from '../shanghai-time.ts'
import { fenToYuan, yuanToFen } from '../yuan.ts'

/** The fields every `*_response` carries. */
export interface AlipayResult {
  code: string
  msg: string
  sub_code?: string
  sub_msg?: string
}

export interface PrecreateResult extends AlipayResult {
  out_trade_no?: string
  qr_code?: string
}

export interface QueryResult extends AlipayResult {
  trade_no?: string
  out_trade_no?: string
  trade_status?: string
  total_amount?: string
  send_pay_date?: string
  buyer_logon_id?: string
}

export interface RefundResult extends AlipayResult {
  trade_no?: string
  out_trade_no?: string
  fund_change?: string
  refund_fee?: string
  gmt_refund_pay?: string
}

export interface RefundQueryResult extends AlipayResult {
  trade_no?: string
  out_trade_no?: string
  out_request_no?: string
  refund_amount?: string
  refund_status?: string
  /** When the refund was made: only answered when asked for (query_options). */
  gmt_refund_pay?: string
}

/** Our integer minor units as Alipay's decimal yuan string. Only CNY is payable through 当面付. */
export function toAlipayAmount(amount: number, currency: string): string {
  if (currency !== 'CNY') throw new RangeError(`Alipay 当面付 takes CNY only, not ${currency}`)
  if (!Number.isSafeInteger(amount) || amount < 1 || amount > 10_000_000_000) {
    throw new RangeError(`Alipay takes 0.01 to 100000000.00 yuan, got ${amount} fen`)
  }
  return fenToYuan(amount)
}

/**
 * The time from the attempt's opening to 30 s before the order's expiry, in whole minutes within Alipay's 1m to
 * 15d: the channel stops taking payment before ours does, so a last-moment payment is notified while the order is
 * still pending. From the attempt, never the clock: a retried precreate for the same out_trade_no (the same
 * attempt) must send the same biz_content. Alipay counts it from the code's creation, which is the opening give or
 * take a retry's delay (rounding down to the minute absorbs most of it); the reconciler closes the code when the
 * order expires in any case.
 */
export function timeoutExpress(order: Order, openedAt: number): string {
  const minutes = Math.floor((order.expiresAt - 30_000 - openedAt) / 60_000)
  return `${Math.min(15 * 1440, Math.max(1, minutes))}m`
}

/** Alipay's subject is at most 256 characters. */
export function alipaySubject(subject: string): string {
  return firstCharacters(subject, 256) || '-'
}

export function precreateBiz(paymentId: string, order: Order, openedAt: number) {
  return {
    out_trade_no: paymentId,
    total_amount: toAlipayAmount(order.amount, order.currency),
    subject: alipaySubject(order.subject),
    product_code: 'FACE_TO_FACE_PAYMENT',
    // timeout_express counts from the trade's creation, which for a precreated code is the buyer's scan: alone,
    // a code scanned late would stay payable that long after the scan. qr_code_timeout_express counts from the code.
    timeout_express: timeoutExpress(order, openedAt),
    qr_code_timeout_express: timeoutExpress(order, openedAt),
  }
}

/**
 * trade_status → our payment state. A trade that does not exist yet (not scanned) is pending: Alipay only
 * creates it when the buyer scans. TRADE_FINISHED is paid and no longer refundable: still a success.
 */
export function paymentStateOf(r: { trade_status?: string; trade_no?: string; total_amount?: string; send_pay_date?: string; gmt_payment?: string }): ChannelPaymentState {
  switch (r.trade_status) {
    case 'TRADE_SUCCESS':
    case 'TRADE_FINISHED': {
      const amount = r.total_amount === undefined ? null : yuanToFen(r.total_amount)
      if (!isChannelId(r.trade_no, TRADE_NO_MAX) || amount === null) return { status: 'pending' }
      const when = r.gmt_payment ?? r.send_pay_date
      const paidAt = when ? parseAlipayTime(when) : null
      return { status: 'succeeded', channelTradeNo: r.trade_no, amount, ...(paidAt !== null ? { paidAt } : {}) }
    }
    // An unpaid trade closed, or a paid one refunded in full. Only a pending payment moves to closed
    // (apply-channel-payment-state): a full refund made outside ScanPay (in Alipay's console) leaves the order
    // paid; the daily bill check flags its refund line (unknown_refund).
    case 'TRADE_CLOSED':
      return { status: 'closed' }
    default:
      return { status: 'pending' }
  }
}

/** Codes that mean Alipay did not act and will not: the request was refused. */
export function isDefiniteRefusal(r: AlipayResult): boolean {
  // A system error may have acted, under whatever prefix it comes (ACQ.SYSTEM_ERROR, aop.ACQ.SYSTEM_ERROR).
  if (r.code === '40004') return !/SYSTEM_ERROR$/i.test(r.sub_code ?? '')
  return r.code === '40001' || r.code === '40002' || r.code === '40006' || r.code === '20001'
}
