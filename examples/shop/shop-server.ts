// The shop's web server (node:http, no framework): the product, "buy", the order page and its state, the
// refund button, and the ScanPay webhook endpoint.
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { ScanPayError, type ScanPay } from './scanpay.ts'
import { errorPage, homePage, orderPage, PRODUCT } from './pages.ts'
import { applyScanPayOrder, applyScanPayRefund, formatAmount, newShopOrder, refundable, type ShopOrder } from './shop-orders.ts'
import type { ShopStore } from './shop-store.ts'
import { handleWebhook } from './webhook-handler.ts'

export interface ShopOptions {
  scanpay: ScanPay
  webhookSecret: string
  store: ShopStore
  /** The shop's own origin as ScanPay can reach it, for notify_url and return_url. */
  publicUrl: string
  /**
   * While an order waits for payment, the shop asks ScanPay itself this often (when its page polls), in
   * case a webhook cannot reach it. Webhooks remain the main path.
   */
  checkAfterMs?: number
}

const MAX_BODY = 1024 * 1024

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > MAX_BODY) {
        reject(new Error('body too large'))
        req.destroy()
      } else chunks.push(c)
    })
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers }).end(body)
}

const html = (res: ServerResponse, status: number, body: string) => send(res, status, 'text/html; charset=utf-8', body)
const redirect = (res: ServerResponse, to: string) => send(res, 303, 'text/plain', `See ${to}`, { location: to })

function describe(err: unknown): string {
  if (err instanceof ScanPayError) return `ScanPay said ${err.code}: ${err.message}${err.requestId ? ` (request ${err.requestId})` : ''}`
  return (err as Error).message
}

/** The shop's order number: short, unique, and valid as a ScanPay out_trade_no. */
function newShopOrderId(): string {
  return `S-${Date.now().toString(36).toUpperCase()}-${randomBytes(3).toString('hex').toUpperCase()}`
}

export function createShop(options: ShopOptions): Server {
  const { scanpay, store, webhookSecret } = options
  const publicUrl = options.publicUrl.replace(/\/+$/, '')
  const checkAfterMs = options.checkAfterMs ?? 15_000

  async function buy(res: ServerResponse) {
    const order = newShopOrder(newShopOrderId(), PRODUCT.name, PRODUCT.amount, PRODUCT.currency, new Date())
    store.put(order)
    try {
      const created = await scanpay.orders.create({
        out_trade_no: order.id,
        amount: order.amount,
        currency: order.currency,
        subject: order.product,
        notify_url: `${publicUrl}/webhooks/scanpay`,
        return_url: `${publicUrl}/orders/${order.id}`,
        metadata: { shop_order: order.id },
      })
      store.update(order.id, (o) => {
        o.scanpayOrderId = created.id
        o.payUrl = created.pay_url
        o.qrSvgUrl = created.qr_code.svg_url
      })
      redirect(res, `/orders/${order.id}`)
    } catch (err) {
      html(res, 502, homePage(store.list(), `Could not start the payment: ${describe(err)}`))
    }
  }

  /** A fallback for a webhook that has not arrived (yet): ask ScanPay, apply the same way. */
  async function checkWithScanPay(o: ShopOrder) {
    if (o.status !== 'awaiting_payment' || !o.scanpayOrderId) return
    if (Date.now() - Date.parse(o.checkedAt ?? o.createdAt) < checkAfterMs) return
    store.update(o.id, (x) => void (x.checkedAt = new Date().toISOString()))
    try {
      const current = await scanpay.orders.retrieve(o.scanpayOrderId)
      store.update(o.id, (x) => applyScanPayOrder(x, current, 'api'))
    } catch {
      // The next poll tries again; the page keeps showing what the shop knows.
    }
  }

  async function refund(res: ServerResponse, id: string) {
    const o = store.get(id)
    if (!o) return html(res, 404, errorPage(404, `No order ${id}`))
    const amount = refundable(o)
    if (amount === 0 || !o.scanpayOrderId) return html(res, 409, orderPage(o, 'Nothing left to refund.'))
    // Numbered by the refunds asked so far, failed ones included: a double click sends the same out_refund_no, so
    // ScanPay refunds once; after a failed refund the next click is a new refund, not the failed one replayed.
    const n = Object.keys(o.refunds).length + 1
    try {
      const r = await scanpay.refunds.create(o.scanpayOrderId, { amount, out_refund_no: `${o.id}-R${n}`, reason: 'Refunded from the shop' })
      store.update(id, (x) => applyScanPayRefund(x, r))
      redirect(res, `/orders/${id}`)
    } catch (err) {
      html(res, 502, orderPage(o, `The refund failed: ${describe(err)}`))
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://shop.invalid')
    const path = url.pathname
    const orderMatch = /^\/orders\/([A-Za-z0-9-]+)(\/state|\/refund)?$/.exec(path)
    if (req.method === 'GET' && path === '/') return html(res, 200, homePage(store.list()))
    if (req.method === 'POST' && path === '/buy') {
      await readBody(req)
      return buy(res)
    }
    if (req.method === 'POST' && path === '/webhooks/scanpay') {
      const answer = handleWebhook(store, webhookSecret, await readBody(req), req.headers)
      return send(res, answer.status, 'text/plain; charset=utf-8', answer.body)
    }
    if (orderMatch) {
      const [, id, action] = orderMatch as unknown as [string, string, string | undefined]
      if (req.method === 'POST' && action === '/refund') {
        await readBody(req)
        return refund(res, id)
      }
      const o = store.get(id)
      if (req.method === 'GET' && !action) return o ? html(res, 200, orderPage(o)) : html(res, 404, errorPage(404, `No order ${id}`))
      if (req.method === 'GET' && action === '/state') {
        if (!o) return send(res, 404, 'application/json', JSON.stringify({ error: 'not found' }))
        await checkWithScanPay(o)
        const now = store.get(id)!
        return send(
          res,
          200,
          'application/json',
          JSON.stringify({
            id: now.id,
            status: now.status,
            amount: now.amount,
            amount_refunded: now.amountRefunded,
            amount_refunded_text: formatAmount(now.amountRefunded, now.currency),
            refundable: refundable(now),
            fulfilments: now.fulfilments,
            paid_via: now.paidVia,
            scanpay_order_id: now.scanpayOrderId,
            refunds: Object.values(now.refunds),
          }),
        )
      }
    }
    html(res, 404, errorPage(404, `Nothing at ${path}`))
  }

  return createServer((req, res) => {
    route(req, res).catch((err) => {
      if (!res.headersSent) html(res, 500, errorPage(500, (err as Error).message))
      else res.destroy()
    })
  })
}

/** Starts the shop on host:port (0 picks a free port); resolves with its origin. */
export async function listen(server: Server, port: number, host = '127.0.0.1'): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const { port: actual } = server.address() as AddressInfo
  return `http://${host}:${actual}`
}
