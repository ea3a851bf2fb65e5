// WeChat Pay API v3 wire types and the mapping to and from ScanPay's: the status map and money (WeChat
// counts integer fen, exactly our minor unit for CNY, so amounts pass through unchanged but are checked).
import type { Order } from '../../core/order.ts'
import type { ChannelNotification, ChannelPaymentState, ChannelRefundState } from '../../core/payment-channel.ts'
import { isChannelId, REFUND_ID_MAX, TRADE_NO_MAX } from '../channel-ids.ts'
import { firstUtf8Bytes } from '../characters.ts'
import { NotificationRejected } from '../notification-rejected.ts'
import { parseRfc3339, rfc3339Shanghai } from '../shanghai-time.ts'

export interface NativePrepayRequest {
  appid: string
  mchid: string
  description: string
  out_trade_no: string
  time_expire?: string
  attach?: string
  notify_url: string
  amount: { total: number; currency?: string }
}

export interface Transaction {
  appid?: string
  mchid?: string
  out_trade_no: string
  transaction_id?: string
  trade_type?: string
  trade_state: string
  trade_state_desc?: string
  bank_type?: string
  attach?: string
  success_time?: string
  payer?: { openid?: string }
  amount?: { total?: number; payer_total?: number; currency?: string; payer_currency?: string }
}

export interface RefundRequest {
  transaction_id?: string
  out_trade_no?: string
  out_refund_no: string
  reason?: string
  notify_url?: string
  amount: { refund: number; total: number; currency: string }
}

export interface RefundResponse {
  refund_id: string
  out_refund_no: string
  transaction_id?: string
  out_trade_no?: string
  status: string
  success_time?: string
  create_time?: string
  amount?: { total: number; refund: number; currency?: string }
}

export interface NotificationEnvelope {
  id: string
  create_time: string
  resource_type: string
  event_type: string
  summary?: string
  resource: { original_type?: string; algorithm: string; ciphertext: string; associated_data?: string; nonce: string }
}

export interface WechatErrorBody {
  code: string
  message: string
  detail?: unknown
}

/** Our integer minor units as WeChat's `total` (fen). Only CNY is payable through the domestic API. */
export function toWechatAmount(amount: number, currency: string): { total: number; currency: 'CNY' } {
  if (currency !== 'CNY') throw new RangeError(`WeChat Pay (domestic) takes CNY only, not ${currency}`)
  if (!Number.isSafeInteger(amount) || amount < 1) throw new RangeError(`amount must be a positive integer of fen, got ${amount}`)
  return { total: amount, currency: 'CNY' }
}

/** WeChat's `description` is at most 127 bytes of UTF-8; cut on a character boundary. */
export function wechatDescription(subject: string): string {
  return firstUtf8Bytes(subject, 127) || '-'
}

/**
 * A refund's `reason`, which WeChat shows the customer: "不得超过80个字节" (80 bytes, not characters), so a longer
 * one (27 汉字 are 81 bytes) is refused with PARAM_ERROR, and with it the refund. Cut on a character boundary.
 */
export function wechatRefundReason(reason: string): string {
  return firstUtf8Bytes(reason, 80)
}

/**
 * WeChat stops taking payment this long before our order expires, so a payment made at the last moment has
 * time to be notified while the order is still pending (instead of arriving after expiry and being refunded).
 */
export const EXPIRY_MARGIN_MS = 30_000

/**
 * The Native prepay body for one attempt. `time_expire` is the order's expiry less the margin, in Beijing
 * time, from the order alone: a retry of the same attempt (after a timeout) must send the very same body, since
 * WeChat refuses a changed `time_expire` for an out_trade_no it knows. A value under a minute ahead is WeChat's
 * to move to a minute, as it does.
 */
export function nativePrepayRequest(input: {
  appid: string
  mchid: string
  paymentId: string
  order: Order
  notifyUrl: string
}): NativePrepayRequest {
  const expiresAt = input.order.expiresAt - EXPIRY_MARGIN_MS
  return {
    appid: input.appid,
    mchid: input.mchid,
    description: wechatDescription(input.order.subject),
    out_trade_no: input.paymentId,
    time_expire: rfc3339Shanghai(Math.floor(expiresAt / 1000) * 1000),
    notify_url: input.notifyUrl,
    amount: toWechatAmount(input.order.amount, input.order.currency),
  }
}

/**
 * trade_state → our payment state. REFUND means it was paid (and refunded since): the success stands.
 * Anything unknown stays pending: only the states WeChat documents as final are believed.
 */
export function paymentStateOf(tx: Transaction): ChannelPaymentState {
  switch (tx.trade_state) {
    case 'SUCCESS':
    case 'REFUND': {
      const total = tx.amount?.total
      if (!isChannelId(tx.transaction_id, TRADE_NO_MAX) || typeof total !== 'number' || !Number.isSafeInteger(total)) return { status: 'pending' }
      if ((tx.amount?.currency ?? 'CNY') !== 'CNY') return { status: 'pending' }
      const paidAt = tx.success_time ? parseRfc3339(tx.success_time) : null
      return { status: 'succeeded', channelTradeNo: tx.transaction_id, amount: total, ...(paidAt !== null ? { paidAt } : {}), ...(tx.trade_state === 'REFUND' ? { refunded: true as const } : {}) }
    }
    case 'CLOSED':
    case 'REVOKED':
      return { status: 'closed' }
    case 'PAYERROR':
      return { status: 'failed', reason: tx.trade_state_desc ?? 'PAYERROR' }
    default:
      return { status: 'pending' }
  }
}

/**
 * Refund status → our refund state; PROCESSING, ABNORMAL (stuck, waiting for the merchant to act at WeChat Pay,
 * after which it ends SUCCESS or CLOSED) and anything unknown stay pending: only CLOSED frees the amount.
 */
export function refundStateOf(r: RefundResponse): ChannelRefundState {
  const state = refundStateFrom(r.status, r.refund_id)
  // The bill lists a refund on the day it was asked for, whenever it ended.
  const datedAt = r.create_time ? parseRfc3339(r.create_time) : null
  return state.status === 'succeeded' && datedAt !== null ? { ...state, datedAt } : state
}

function refundStateFrom(status: string, refundId: string): ChannelRefundState {
  switch (status) {
    case 'SUCCESS':
      return { status: 'succeeded', channelRefundNo: refundId }
    case 'CLOSED':
      return { status: 'failed', reason: 'WeChat Pay closed the refund' }
    case 'ABNORMAL':
      return { status: 'pending', attention: 'WeChat Pay could not return the money to the account paid with (ABNORMAL): the merchant must act on this refund in the WeChat Pay merchant platform' }
    default:
      return { status: 'pending' }
  }
}

/** The decrypted resource of a REFUND.* notification (channel-protocols.md A.5); unchecked until refundNoticeOf. */
export interface RefundNotice {
  mchid?: unknown
  transaction_id?: unknown
  out_refund_no?: unknown
  refund_id?: unknown
  refund_status?: unknown
  amount?: { refund?: unknown }
}

/**
 * A refund notification → what it says of our refund (its out_refund_no is our refund id). It names no payment
 * of ours to move: a refund's end moves the refund, never the payment.
 */
export function refundNoticeOf(n: RefundNotice, mchid: string): Omit<ChannelNotification, 'notificationId'> {
  if (n.mchid !== mchid) throw new NotificationRejected('account_mismatch', `the refund notification is for mchid ${String(n.mchid)}, not ${mchid}`)
  const amount = n.amount?.refund
  if (typeof n.refund_status !== 'string' || typeof amount !== 'number' || !Number.isSafeInteger(amount)) {
    throw new NotificationRejected('body_invalid', 'the refund notification lacks refund_status or amount.refund')
  }
  // Ids that no column of ours holds (NUL, or longer) are not looked up nor stored, even signed.
  if (!isChannelId(n.out_refund_no, REFUND_ID_MAX) || !isChannelId(n.refund_id, TRADE_NO_MAX) || !isChannelId(n.transaction_id, TRADE_NO_MAX)) {
    throw new NotificationRejected('body_invalid', 'the refund notification lacks a readable out_refund_no, refund_id or transaction_id')
  }
  const state = refundStateFrom(n.refund_status, n.refund_id)
  return { paymentId: '', state: { status: 'pending' }, refund: { refundId: n.out_refund_no, amount, channelTradeNo: n.transaction_id, state } }
}

export function isWechatError(v: unknown): v is WechatErrorBody {
  return typeof v === 'object' && v !== null && typeof (v as WechatErrorBody).code === 'string'
}
