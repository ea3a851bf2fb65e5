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

function shopOrderIdOf(event: WebhookEvent): string | null {
  const data = event.data as { out_trade_no?: string; order?: { out_trade_no?: string } } | undefined
  if (!data) return null
  if (event.type.startsWith('refund.')) return data.order?.out_trade_no ?? null
  return data.out_trade_no ?? null
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
  const shopOrderId = shopOrderIdOf(event)
  // Verified, so it is ScanPay speaking; an order this shop does not know (another shop on the same merchant?)
  // is acknowledged, or ScanPay would retry it for a day.
  if (!shopOrderId || !store.get(shopOrderId)) return { status: 200, body: 'ignored: not an order of this shop' }
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
          // A refund event may overtake order.paid: its order snapshot says paid, so the order is paid first.
          applyScanPayOrder(o, data.order, 'webhook')
          applyScanPayRefund(o, data)
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
