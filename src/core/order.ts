// The order: what a merchant asked to be paid, and the only moves its status may make.

export type Mode = 'test' | 'live'
export type OrderStatus = 'pending' | 'paid' | 'expired' | 'closed' | 'partially_refunded' | 'refunded'
export type ChannelName = 'sandbox' | 'wechatpay' | 'alipay'

export const LIVE_CHANNELS: readonly ChannelName[] = ['wechatpay', 'alipay']
export const ALL_CHANNELS: readonly ChannelName[] = ['sandbox', 'wechatpay', 'alipay']
/** What each channel can take: WeChat Pay (domestic) and 当面付 settle in CNY only; the sandbox plays any currency. */
const TAKES_ONLY: Partial<Record<ChannelName, readonly string[]>> = { wechatpay: ['CNY'], alipay: ['CNY'] }

export function channelTakes(channel: ChannelName, currency: string): boolean {
  return TAKES_ONLY[channel]?.includes(currency) ?? true
}

/** Every move the contract allows; anything absent is forbidden. */
const MOVES: Record<OrderStatus, readonly OrderStatus[]> = {
  pending: ['paid', 'expired', 'closed'],
  paid: ['partially_refunded', 'refunded'],
  partially_refunded: ['partially_refunded', 'refunded'],
  refunded: [],
  expired: [],
  closed: [],
}

export function canMove(from: OrderStatus, to: OrderStatus): boolean {
  return MOVES[from].includes(to)
}

export interface Order {
  id: string
  merchantId: string
  mode: Mode
  status: OrderStatus
  outTradeNo: string
  amount: number
  amountRefunded: number
  currency: string
  subject: string
  description: string | null
  metadata: Record<string, string>
  channels: ChannelName[]
  notifyUrl: string | null
  returnUrl: string | null
  payToken: string
  channel: ChannelName | null
  channelTradeNo: string | null
  /** Fingerprint of the creating parameters, for out_trade_no idempotency. */
  requestHash: string
  createdAt: number
  expiresAt: number
  paidAt: number | null
  closedAt: number | null
  updatedAt: number
}

/** The channels an order may be paid through: test orders only the sandbox, live orders only real channels. */
export function channelsForMode(mode: Mode, requested: readonly ChannelName[] | undefined): ChannelName[] {
  if (mode === 'test') return ['sandbox']
  return requested && requested.length > 0 ? [...new Set(requested)] : [...LIVE_CHANNELS]
}

/** A pending order whose time has run out is expired even before the expiry job has written it. */
export function effectiveStatus(order: Pick<Order, 'status' | 'expiresAt'>, nowMs: number): OrderStatus {
  return order.status === 'pending' && order.expiresAt <= nowMs ? 'expired' : order.status
}

export function isFinal(status: OrderStatus): boolean {
  return MOVES[status].length === 0
}
