// A signed payment link's order: the one this link (or the API, with the same parameters) already made, else a
// new one. Idempotent on out_trade_no like the API; different parameters are a conflict. The link itself is read
// and verified by the HTTP layer (http/checkout/payment-link.ts).
import { AppError } from '../errors.ts'
import { channelsForMode, type Mode, type Order } from '../order.ts'
import type { OrderStore } from '../ports.ts'
import type { UseCaseDeps } from './context.ts'
import { createOrder, type CreateOrderInput } from './create-order.ts'

/** Order lifetimes the API allows; a link's own expiry is clamped into them. */
const MIN_EXPIRES_IN = 60
const MAX_EXPIRES_IN = 86_400

/** The order a link describes. */
export interface LinkOrder {
  amount: number
  currency: string
  outTradeNo: string
  subject: string
  /** Unix seconds after which the link no longer creates an order. */
  expiresAt: number
  description: string | null
  returnUrl: string | null
  notifyUrl: string | null
}

/** When the order expires (ms): when the link does, within the 60 s to 24 h from now that the API allows. */
export function orderExpiry(link: Pick<LinkOrder, 'expiresAt'>, nowMs: number): number {
  return Math.min(nowMs + MAX_EXPIRES_IN * 1000, Math.max(nowMs + MIN_EXPIRES_IN * 1000, link.expiresAt * 1000))
}

/**
 * Whether an existing order is the one this link describes. The lifetime is left out on purpose: it is
 * counted from the moment the link is first opened, so every later opening computes a different one.
 */
export function linkDescribes(order: Order, link: LinkOrder): boolean {
  const channels = channelsForMode(order.mode, undefined)
  return (
    order.amount === link.amount &&
    order.currency === link.currency &&
    order.subject === link.subject &&
    order.description === link.description &&
    order.returnUrl === link.returnUrl &&
    order.notifyUrl === link.notifyUrl &&
    Object.keys(order.metadata).length === 0 &&
    order.channels.length === channels.length &&
    channels.every((c) => order.channels.includes(c))
  )
}

function conflict(link: LinkOrder): AppError {
  return new AppError(
    'out_trade_no_conflict',
    `an order with out_trade_no ${JSON.stringify(link.outTradeNo)} already exists with different parameters`,
    'out_trade_no',
  )
}

/** The link's order: the existing one when this link (or the API, with the same parameters) made it, else a new one. */
export async function orderForLink(
  deps: UseCaseDeps,
  orders: Pick<OrderStore, 'byOutTradeNo'>,
  merchantId: string,
  mode: Mode,
  link: LinkOrder,
): Promise<Order> {
  const existing = await orders.byOutTradeNo(merchantId, mode, link.outTradeNo)
  if (existing) {
    if (!linkDescribes(existing, link)) throw conflict(link)
    return existing
  }
  const now = deps.clock.now()
  const expiresAt = orderExpiry(link, now)
  const input: CreateOrderInput = {
    outTradeNo: link.outTradeNo,
    amount: link.amount,
    currency: link.currency,
    subject: link.subject,
    description: link.description,
    notifyUrl: link.notifyUrl,
    returnUrl: link.returnUrl,
    // Ends with the link, to the millisecond (a count of whole seconds from now would end up to a second early).
    expiresInSeconds: Math.floor((expiresAt - now) / 1000),
    expiresAt,
    channels: undefined,
    metadata: {},
  }
  try {
    return (await createOrder(deps, merchantId, mode, input)).order
  } catch (err) {
    // Two openings at once: the other one inserted first, with a lifetime a second apart. Same link, same order.
    if (!(err instanceof AppError) || err.code !== 'out_trade_no_conflict') throw err
    const winner = await orders.byOutTradeNo(merchantId, mode, link.outTradeNo)
    if (winner && linkDescribes(winner, link)) return winner
    throw err
  }
}
