// The channel contract: what every payment institution adapter (sandbox, WeChat Pay, Alipay) provides.
import type { ChannelName, Order } from './order.ts'

export type ChannelPaymentState =
  | { status: 'pending' }
  | { status: 'succeeded'; channelTradeNo: string; amount: number; paidAt?: number }
  | { status: 'closed' }
  | { status: 'failed'; reason?: string }

export interface CreatePaymentInput {
  /** Our payment id, used as the channel's out_trade_no so notifications correlate without a lookup. */
  paymentId: string
  order: Order
  notifyUrl: string
}

export interface CreatedPayment {
  /** What the customer's app scans (WeChat code_url, Alipay qr_code). */
  qrContent?: string
  redirectUrl?: string
  channelPaymentId?: string
}

export interface ChannelNotification {
  /** The channel's id for this notification, for dedupe. */
  notificationId: string
  paymentId: string
  state: ChannelPaymentState
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
  parseNotification(req: { headers: Record<string, string | string[] | undefined>; rawBody: string }): Promise<ChannelNotification>
  acknowledge(outcome: 'ok' | 'error'): ChannelReply
}
