// scanpay order show: everything ScanPay knows of one order, for an operator answering "I paid, where is my
// order?": the order, each channel attempt (the pay_… id is what WeChat Pay and Alipay show the customer as the
// merchant's order number), its refunds, and each event with how its webhook went. Found by the order's id, a
// payment's or a refund's id, or the merchant's out_trade_no. Reads only.
import type { Config } from '../../config/config.ts'
import type { AppContext } from '../../context.ts'
import type { DeliveryAttempt, StoredEvent } from '../../core/events.ts'
import { formatMinor } from '../../core/money.ts'
import type { Mode, Order } from '../../core/order.ts'
import type { Payment } from '../../core/ports.ts'
import type { Refund } from '../../core/refund.ts'
import { isoTime as iso, presentEvent, presentOrder, presentPayment, presentRefund } from '../../http/presenters.ts'
import { runOnContext, type Print } from './on-context.ts'

export const ORDER_USAGE = `usage:
  scanpay order show ord_…|pay_…|rfd_… [--json]   (an order by its id, a refund's, or a payment's: the merchant order
    number a customer's WeChat Pay or Alipay receipt shows)
  scanpay order show --merchant mch_… --out-trade-no NO [--json]   (by the merchant's own number: live first, then test)`

/** More than an order ever has in practice; a list cut here says so. */
const LIMIT = 100

export interface OrderShowOptions {
  action?: string
  id?: string
  merchant?: string
  outTradeNo?: string
  json: boolean
}

export async function runOrderShow(config: Config, opts: OrderShowOptions): Promise<number> {
  if (!valid(opts)) {
    console.error(ORDER_USAGE)
    return 2
  }
  return runOnContext(config, (ctx, print) => orderShowCommand(ctx, opts, print))
}

function valid(opts: OrderShowOptions): boolean {
  if (opts.action !== 'show') return false
  return opts.id !== undefined ? opts.merchant === undefined && opts.outTradeNo === undefined : opts.merchant !== undefined && opts.outTradeNo !== undefined
}

/** Prints the order through `print`: exit 0, 1 when there is no such order, 2 for a command that cannot be run. */
export async function orderShowCommand(ctx: Pick<AppContext, 'storage' | 'clock' | 'config'>, opts: OrderShowOptions, print: Print): Promise<number> {
  if (!valid(opts)) {
    print(ORDER_USAGE, true)
    return 2
  }
  const found = await findOrder(ctx, opts)
  if ('missing' in found) {
    print(found.missing, true)
    return found.code
  }
  const { order } = found
  const merchant = await ctx.storage.merchants.byId(order.merchantId)
  const [payments, refunds, events] = await Promise.all([
    ctx.storage.payments.ofOrder(order.merchantId, order.id),
    ctx.storage.refunds.listForOrder({ merchantId: order.merchantId, mode: order.mode, orderId: order.id, limit: LIMIT + 1 }),
    ctx.storage.events.list({ merchantId: order.merchantId, mode: order.mode, orderId: order.id, limit: LIMIT + 1 }),
  ])
  const cut = refunds.length > LIMIT || events.length > LIMIT
  const shown = { refunds: refunds.slice(0, LIMIT), events: events.slice(0, LIMIT).reverse() }
  const attempts = await Promise.all(shown.events.map((e) => ctx.storage.events.attempts(order.merchantId, e.id)))
  const now = ctx.clock.now()
  if (opts.json) {
    print(JSON.stringify({
      order: { ...presentOrder(ctx.config.publicUrl, order, now), merchant_id: order.merchantId, merchant_name: merchant?.name ?? null },
      payments: payments.map(presentPayment),
      refunds: shown.refunds.map(presentRefund),
      events: shown.events.map((e, i) => presentEvent(e, attempts[i]!)),
      has_more: cut,
    }))
    return 0
  }
  for (const line of describe(order, merchant ?? null, payments, shown.refunds, shown.events, attempts, now)) print(line)
  if (cut) print(`… more than ${LIMIT} refunds or events: the newest ${LIMIT} are shown`)
  return 0
}

type Found = { order: Order } | { missing: string; code: number }

async function findOrder(ctx: Pick<AppContext, 'storage'>, opts: OrderShowOptions): Promise<Found> {
  if (opts.id !== undefined) {
    let orderId = opts.id
    if (opts.id.startsWith('pay_')) {
      const payment = await ctx.storage.statement((w) => w.payments.byId(opts.id!))
      if (!payment) return { missing: `no payment ${opts.id}`, code: 1 }
      orderId = payment.orderId
    } else if (opts.id.startsWith('rfd_')) {
      const refund = await ctx.storage.refunds.ownerOf(opts.id)
      if (!refund) return { missing: `no refund ${opts.id} (an unexpected payment's refund_id is not one: look its payment up)`, code: 1 }
      orderId = refund.orderId
    } else if (!opts.id.startsWith('ord_')) {
      return { missing: `${opts.id} is not an order id (ord_…), a payment id (pay_…) or a refund id (rfd_…)`, code: 2 }
    }
    const owner = await ctx.storage.orders.ownerOf(orderId)
    const order = owner && (await ctx.storage.orders.byId(owner.merchantId, owner.mode, orderId))
    return order ? { order } : { missing: `no order ${orderId}`, code: 1 }
  }
  // A mistyped merchant must not read as "no such order".
  if (!(await ctx.storage.merchants.byId(opts.merchant!))) return { missing: `no merchant ${opts.merchant}`, code: 2 }
  for (const mode of ['live', 'test'] as const satisfies readonly Mode[]) {
    const order = await ctx.storage.orders.byOutTradeNo(opts.merchant!, mode, opts.outTradeNo!)
    if (order) return { order }
  }
  return { missing: `merchant ${opts.merchant} has no order ${JSON.stringify(opts.outTradeNo)}`, code: 1 }
}

const money = (amount: number, currency: string) => `${formatMinor(amount, currency)} ${currency}`

function describe(order: Order, merchant: { name: string; webhookUrl: string | null } | null, payments: Payment[], refunds: Refund[], events: StoredEvent[], attempts: DeliveryAttempt[][], now: number): string[] {
  const view = presentOrder('', order, now)
  // Where its webhooks go: its own notify_url, else the merchant's default (read now: a change applies to retries).
  const hooksTo = order.notifyUrl ?? (merchant?.webhookUrl ? `${merchant.webhookUrl} (the merchant's default)` : "none: the order has no notify_url and the merchant no default, so its events wait")
  const lines = [
    `${order.id} ${order.mode} order ${JSON.stringify(order.outTradeNo)} of ${order.merchantId}${merchant === null ? '' : ` (${merchant.name})`}: ${view.status}, ${money(order.amount, order.currency)}${order.amountRefunded > 0 ? `, ${money(order.amountRefunded, order.currency)} refunded` : ''}`,
    `  ${JSON.stringify(order.subject)}; created ${iso(order.createdAt)}, expires ${iso(order.expiresAt)}${order.paidAt === null ? '' : `, paid ${iso(order.paidAt)} through ${order.channel} (${order.channelTradeNo})`}${order.closedAt === null ? '' : `, closed ${iso(order.closedAt)}`}`,
    `  webhooks to ${hooksTo}`,
  ]
  lines.push(payments.length === 0 ? 'no channel attempts' : 'channel attempts (the pay_… id is the channel\'s out_trade_no):')
  for (const p of payments) {
    const refused = p.refundRefusedReason ? `; refund refused: ${p.refundRefusedReason}` : ''
    lines.push(`  ${p.id} ${p.channel} ${p.status}${p.unexpected ? ' (unexpected: paid after the order stopped taking money)' : ''}, ${money(p.amount, p.currency)}, trade ${p.channelTradeNo ?? '—'}, opened ${iso(p.createdAt)}${refused}`)
  }
  lines.push(refunds.length === 0 ? 'no refunds' : 'refunds:')
  for (const r of refunds) {
    lines.push(`  ${r.id} ${JSON.stringify(r.outRefundNo)} ${r.status}, ${money(r.amount, r.currency)}, asked ${iso(r.createdAt)}${r.succeededAt === null ? '' : `, succeeded ${iso(r.succeededAt)}`}${r.failureReason ? `: ${r.failureReason}` : ''}`)
  }
  lines.push(events.length === 0 ? 'no events' : 'events and their webhooks:')
  events.forEach((e, i) => {
    const tries = attempts[i]!
    const last = tries.at(-1)
    const lastSaid = last ? `, last ${iso(last.at)}: ${last.statusCode ?? last.error ?? 'no answer'}` : ''
    lines.push(`  ${e.id} ${e.type} at ${iso(e.createdAt)}: ${e.deliveryStatus}, ${tries.length} attempt${tries.length === 1 ? '' : 's'}${lastSaid}`)
  })
  return lines
}
