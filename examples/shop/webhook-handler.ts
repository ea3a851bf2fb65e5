// The shop's webhook endpoint logic: verify with the SDK, handle each webhook-id once, apply the event to the
// shop's order whatever order the events arrive in, and answer quickly (ScanPay waits at most 10 s).
import type { IncomingHttpHeaders } from 'node:http'
import { verifyWebhook, WebhookVerificationError, type Order, type RefundEventData, type WebhookEvent } from './scanpay.ts'
import { applyScanPayOrder, applyScanPayRefund } from './shop-orders.ts'
import type { ShopStore } from './shop-store.ts'

export interface WebhookAnswer {
  status: number
  body: string
}

/** The ScanPay order an event is about: every event's `data` is the order. */
function scanpayOrderOf(event: WebhookEvent): { id?: string; out_trade_no?: string } | null {
  return (event.data as { id?: string; out_trade_no?: string } | undefined) ?? null
}

export function handleWebhook(store: ShopStore, secret: string, rawBody: Buffer, headers: IncomingHttpHeaders): WebhookAnswer {
  let event: WebhookEvent
  try {
    event = verifyWebhook({ rawBody, headers, secret })
  } catch (err) {
    // 400 tells ScanPay (and its delivery log) the request was refused; the message says why.
    if (err instanceof WebhookVerificationError) return { status: 400, body: `webhook refused: ${err.message}` }
    throw err
  }
  const scanpayOrder = scanpayOrderOf(event)
  const shopOrderId = scanpayOrder?.out_trade_no
  // Verified, so it is ScanPay speaking; an order this shop does not know (another shop on the same merchant?)
  // is acknowledged, or ScanPay would retry it for a day. The ScanPay order must be the very one this shop
  // created, not merely carry its order number: test and live mode share the webhook secret, and a test order
  // (anyone holding the test key can make and pay one) may carry a live order's out_trade_no.
  const shopOrder = shopOrderId ? store.get(shopOrderId) : undefined
  if (!shopOrderId || !shopOrder || shopOrder.scanpayOrderId === null || shopOrder.scanpayOrderId !== scanpayOrder?.id) {
    return { status: 200, body: 'ignored: not an order of this shop' }
  }
  // webhook-id is signed with the body; a redelivery of the same event carries the same one.
  const webhookId = String(headers['webhook-id'])
  const applied = store.handleWebhookOnce(webhookId, () => {
    store.update(shopOrderId, (o) => {
      switch (event.type) {
        case 'order.paid':
        case 'order.expired':
        case 'order.closed':
          applyScanPayOrder(o, event.data as Order, 'webhook')
          break
        case 'refund.succeeded':
        case 'refund.failed': {
          const data = event.data as RefundEventData
          // A refund event may overtake order.paid: its order says paid, so the order is paid first.
          applyScanPayOrder(o, data, 'webhook')
          applyScanPayRefund(o, data.refund)
          break
        }
        default:
          // payment.unexpected and anything newer: nothing for this shop to do automatically.
          break
      }
    })
  })
  return { status: 200, body: applied ? 'ok' : 'ok: already handled' }
}
