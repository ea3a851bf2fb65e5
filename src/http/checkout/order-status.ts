// The customer-facing status of an order: what /status answers and each server-sent `status` event carries.
import { effectiveStatus, type Order, type OrderStatus } from '../../core/order.ts'

export interface CustomerStatus {
  status: OrderStatus
  expires_at: string
  return_url: string | null
}

export function customerStatus(order: Order, nowMs: number): CustomerStatus {
  return {
    status: effectiveStatus(order, nowMs),
    expires_at: new Date(order.expiresAt).toISOString(),
    return_url: order.returnUrl,
  }
}

/**
 * The order has reached an end state the page shows (paid, expired or closed, or a refund of a paid one): the
 * live stream ends here. What can still follow (a refund, a payment that came too late) is rarer and slower,
 * and the page learns of it by asking for itself now and then (checkout-script.ts).
 */
export function isSettled(status: OrderStatus): boolean {
  return status !== 'pending'
}

/** The end state a page shows; refunds read as paid, since the customer did pay. */
export type EndState = 'paid' | 'expired' | 'closed'

export function endStateOf(status: OrderStatus): EndState | null {
  switch (status) {
    case 'pending':
      return null
    case 'expired':
    case 'closed':
      return status
    case 'paid':
    case 'partially_refunded':
    case 'refunded':
      return 'paid'
  }
}

/** The return_url as a link target, only when it is http(s): a javascript: or data: URL must never be clickable. */
export function safeReturnUrl(url: string | null): string | null {
  if (url === null) return null
  try {
    const parsed = new URL(url)
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : null
  } catch {
    return null
  }
}

/** Pay tokens are base64url; anything else is answered 404 without a database read. */
export function plausibleToken(token: string): boolean {
  return /^[A-Za-z0-9_-]{16,128}$/.test(token)
}
