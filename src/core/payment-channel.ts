// The channel contract: what every payment institution adapter (sandbox, WeChat Pay, Alipay) provides.
import type { ChannelName, Order } from './order.ts'

export type ChannelPaymentState =
  | { status: 'pending' }
  /** refunded: the channel says money of it has been given back since (WeChat Pay's REFUND), in part or whole. */
  | { status: 'succeeded'; channelTradeNo: string; amount: number; paidAt?: number; refunded?: true }
  | { status: 'closed' }
  | { status: 'failed'; reason?: string }

/**
 * What a channel says about a refund: anything it does not say is final stays pending. `notFound`: a query found
 * no refund of that number (the request never arrived), which is no refusal: it is sent again, the same number.
 * `recorded`: the channel holds the request yet says it has not made it (Alipay without refund_status), so a
 * refusal of the copy sent again may only mean the first is still at work: it fails nothing.
 */
export type ChannelRefundState =
  /** Not final; `attention` says why a person must act before it can be (WeChat Pay's ABNORMAL). */
  | { status: 'pending'; attention?: string }
  /**
   * datedAt: the time the channel's daily bill dates the refund by, where it says (WeChat Pay's create_time, as a
   * refund is listed on the day it was asked for; Alipay's gmt_refund_pay, as it is listed on the day it was made).
   */
  | { status: 'succeeded'; channelRefundNo: string; datedAt?: number }
  | { status: 'failed'; reason: string; notFound?: true; recorded?: true }

export interface ChannelRefundInput {
  /** Our refund id, used as the channel's out_refund_no: submitting it twice refunds once. */
  refundId: string
  /** The paid order the money goes back from (its channel_trade_no names the channel's payment). */
  order: Order
  amount: number
  currency: string
  reason: string | null
  /**
   * The payment to refund when it is not the one that paid the order (an unexpected success: the order was
   * closed, expired or paid through another attempt). Absent: the order's own channel_trade_no.
   */
  payment?: RefundedPayment
  /** Where the channel tells of the refund's end, for a channel that notifies refunds (WeChat Pay). */
  notifyUrl?: string
}

export interface RefundedPayment {
  /** Our payment id (the channel's out_trade_no). */
  id: string
  channelTradeNo: string | null
  amount: number
}

export interface ChannelRefundRef {
  refundId: string
  order: Order
  payment?: RefundedPayment
  /**
   * When the refund was first sent. A channel whose answer cannot tell "not made yet" from "never received or
   * failed" (Alipay without refund_status) waits this long before taking it as not received.
   */
  requestedAt: number
}

/** Who a notification is for, when the route it arrived on says (per-merchant notify URLs). */
export interface ChannelNotificationRequest {
  headers: Record<string, string | string[] | undefined>
  rawBody: string
  merchantId?: string
}

export interface CreatePaymentInput {
  /** Our payment id, used as the channel's out_trade_no so notifications correlate without a lookup. */
  paymentId: string
  order: Order
  notifyUrl: string
  /**
   * When this attempt was opened (its payment's creation). A channel that counts the code's life from the request
   * (Alipay) counts it to the order's expiry from here, so a retry of the attempt sends the same request.
   */
  openedAt: number
}

export interface CreatedPayment {
  /** What the customer's app scans (WeChat code_url, Alipay qr_code). */
  qrContent?: string
  redirectUrl?: string
  channelPaymentId?: string
}

export interface ChannelNotification {
  /** The channel's id for this notification, for dedupe (per channel and merchant). */
  notificationId: string
  /** The payment it reports on; empty for a notification about something else (a refund). */
  paymentId: string
  state: ChannelPaymentState
  /**
   * What it says of a refund of ours (out_refund_no is our refund id), its amount, and the channel's number of the
   * payment it gives back, for a refund notification.
   */
  refund?: { refundId: string; amount: number; channelTradeNo: string; state: ChannelRefundState }
  /**
   * A refund of ours the notification says was made, without saying enough to settle it (Alipay's names it by
   * out_biz_no, with the trade's refunded total rather than its own amount): asked about now, not at its next
   * scheduled question.
   */
  refundToAsk?: string
  /** The merchant whose credentials verified it, when the adapter had to find out. */
  merchantId?: string
}

export interface ChannelReply {
  status: number
  headers?: Record<string, string>
  body: string
}

export class ChannelError extends Error {
  constructor(
    message: string,
    /** Worth trying again later. */
    readonly retryable: boolean,
    /** The channel may have acted: the outcome must be found by asking, never assumed. */
    readonly outcomeUnknown: boolean,
  ) {
    super(message)
    this.name = 'ChannelError'
  }
}

export interface PaymentChannel {
  readonly name: ChannelName
  createPayment(input: CreatePaymentInput): Promise<CreatedPayment>
  queryPayment(ref: { paymentId: string; order: Order }): Promise<ChannelPaymentState>
  closePayment(ref: { paymentId: string; order: Order }): Promise<void>
  /** Asks the channel to give money back; throws ChannelError (saying whether the outcome is unknown). */
  refund(input: ChannelRefundInput): Promise<ChannelRefundState>
  /** Asks the channel where a refund stands, to settle one whose outcome was not known. */
  queryRefund(ref: ChannelRefundRef): Promise<ChannelRefundState>
  parseNotification(req: ChannelNotificationRequest): Promise<ChannelNotification>
  acknowledge(outcome: 'ok' | 'error'): ChannelReply
  /** Whether this merchant can be paid through the channel now (e.g. has credentials); absent means always. */
  availableFor?(merchantId: string): Promise<boolean>
  /**
   * How long a code from createPayment can be scanned, where the channel bounds it below the order's own expiry
   * (WeChat Pay's code_url: 2 hours); absent, as long as the order. Asking again with the same attempt gives the
   * channel's current code.
   */
  readonly codeLifetimeMs?: number
}
