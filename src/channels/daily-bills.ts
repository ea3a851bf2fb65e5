// The daily bill check. Once a channel's bill of a Beijing day is out (10:00 the next morning), each node's job
// lane finds the merchants whose check of it is due, claims each check (one node does it), downloads the bill,
// reconciles it against our payments (both ways: each line against our records, and each order we recorded as
// paid and each refund we recorded as made that day against the lines), and stores the outcome; a failed check
// is tried again, later each time.
// `scanpay channel bill-checks` lists the outcomes, and /metrics counts them.
import type { Logger } from 'pino'
import type { ChannelName } from '../core/order.ts'
import type { PaymentChannel } from '../core/payment-channel.ts'
import type { Clock, PaymentRefund } from '../core/ports.ts'
import type { Metrics } from '../observability/metrics.ts'
import { NEVER, type SqlBillCheckStore } from '../storage/bill-check-store.ts'
import type { Storage } from '../storage/storage.ts'
import { AlipayChannel } from './alipay/alipay-channel.ts'
import { compareBill, paymentsMissingFromBill, refundsMissingFromBill, type BillDiscrepancy, type BillLine, type BillRecords, type BillRefundLine } from './bill-reconciliation.ts'
import { shanghaiDate, shanghaiDayStart } from './shanghai-time.ts'
import { WechatPayChannel } from './wechat-pay/wechat-pay-channel.ts'

/** The channels with a daily bill. */
export const BILL_CHANNELS = ['wechatpay', 'alipay'] as const satisfies readonly ChannelName[]

const DAY_MS = 86_400_000
/** A day's bill is checked from 10:00 Beijing time the next day: Alipay's is out by 09:00, WeChat Pay's by 10:00. */
const READY_AFTER_DAY_START_MS = DAY_MS + 10 * 3_600_000
/** How many of the latest ready days are looked at, so a node that was down for a day catches up. */
const DAYS_CHECKED = 3
/** How long a node holds a check it claimed: long past a bill's download and reconciliation. */
const LEASE_MS = 10 * 60_000
const MAX_ATTEMPTS = 8
/** The wait before a failed check's next attempt: 10 minutes, doubling, at most 6 hours. */
const retryDelayMs = (attempt: number) => Math.min(10 * 60_000 * 2 ** (attempt - 1), 6 * 3_600_000)
/** The discrepancies stored with a check; the count is always whole. */
const DETAILS_KEPT = 100

export const billChecksMetric = 'scanpay_bill_checks_total'

/** The Beijing days whose bills are out at `now`, the newest first. */
export function readyBillDates(now: number, days = DAYS_CHECKED): string[] {
  const todayStart = shanghaiDayStart(shanghaiDate(now))
  const dates: string[] = []
  for (let back = 1; dates.length < days; back++) {
    const dayStart = todayStart - back * DAY_MS
    if (now >= dayStart + READY_AFTER_DAY_START_MS) dates.push(shanghaiDate(dayStart))
  }
  return dates
}

/**
 * A WeChat Pay bill's 退款状态, as it stands when the bill is made: SUCCESS, PROCESSING, REFUNDCLOSE (closed) and
 * CHANGE (abnormal: the account paid with cannot take it back), in the bill's older words; the refund API's CLOSED
 * and ABNORMAL are taken too. Both of the last mean that no money went back.
 */
const WECHAT_BILL_REFUND_STATES: ReadonlyMap<string, BillRefundLine['state']> = new Map([
  ['SUCCESS', 'succeeded'],
  ['PROCESSING', 'processing'],
  ['REFUNDCLOSE', 'failed'],
  ['CLOSED', 'failed'],
  ['CHANGE', 'failed'],
  ['ABNORMAL', 'failed'],
])

/**
 * The lines of a channel's bill that must match our records: its payments, and its refunds, whatever their state
 * (WeChat Pay lists a refund as it is made, in its state when the bill is made, which may still be PROCESSING;
 * Alipay lists those done).
 */
export async function billLines(adapter: PaymentChannel, merchantId: string, billDate: string): Promise<BillLine[]> {
  if (adapter instanceof WechatPayChannel) {
    const bill = await adapter.downloadTradeBill(merchantId, billDate)
    const lines: BillLine[] = []
    for (const r of bill.rows) {
      // 订单金额, not 应结订单金额: the total we asked for, before any voucher the customer used.
      if (r.tradeState === 'SUCCESS') lines.push({ kind: 'payment', outTradeNo: r.outTradeNo, channelTradeNo: r.transactionId, amount: r.orderAmount })
      // A refund line's 应结订单金额 is 0.00: it is about the refund alone, asked for as 申请退款金额.
      else if (r.tradeState === 'REFUND') {
        const state = WECHAT_BILL_REFUND_STATES.get(r.refundState)
        if (state) lines.push({ kind: 'refund', refundNo: r.outRefundNo, outTradeNo: r.outTradeNo, channelTradeNo: r.transactionId, amount: r.requestedRefundAmount, state })
      }
    }
    return lines
  }
  if (adapter instanceof AlipayChannel) {
    const bill = await adapter.downloadBill(merchantId, billDate)
    const lines: BillLine[] = []
    for (const r of bill.rows) {
      if (r.businessType === '交易') lines.push({ kind: 'payment', outTradeNo: r.outTradeNo, channelTradeNo: r.tradeNo, amount: r.amount })
      // A refund's 订单金额 is written negative.
      else if (r.businessType === '退款') lines.push({ kind: 'refund', refundNo: r.refundRequestNo, outTradeNo: r.outTradeNo, channelTradeNo: r.tradeNo, amount: Math.abs(r.amount), state: 'succeeded' })
    }
    return lines
  }
  throw new Error(`the ${adapter.name} channel has no daily bill`)
}

/** Our records as the bill checks read them. */
export function storedBillRecords(storage: Storage): BillRecords {
  return {
    payment: (id) => storage.statement((w) => w.payments.byId(id)),
    refund: (merchantId, id) => storage.statement((w) => w.refunds.byId(merchantId, 'live', id)),
    paidThrough: (merchantId, channel, from, to) => storage.statement((w) => w.payments.paidThrough(merchantId, channel, from, to)),
    refundedThrough: (merchantId, channel, from, to) => storage.statement((w) => w.refunds.succeededThrough(merchantId, channel, from, to)),
    order: (merchantId, id) => storage.statement((w) => w.orders.byId(merchantId, 'live', id)),
  }
}

/**
 * A merchant's bill of a Beijing day reconciled with our records, both ways: its lines and what disagrees. The bills
 * of other days are downloaded too, once each, where the channel dates a payment or refund of ours on one of them
 * that was out at `now` (a day before today, Beijing time).
 */
export async function reconcileBill(adapter: PaymentChannel, merchantId: string, billDate: string, records: BillRecords, now: number): Promise<{ lines: BillLine[]; discrepancies: BillDiscrepancy[] }> {
  const channel = adapter.name
  if (channel !== 'wechatpay' && channel !== 'alipay') throw new Error(`the ${channel} channel has no daily bill`)
  const lines = await billLines(adapter, merchantId, billDate)
  const from = shanghaiDayStart(billDate)
  const day = { from, to: from + DAY_MS }
  const otherBills = new Map<string, Promise<BillLine[]>>([[billDate, Promise.resolve(lines)]])
  const billOf = async (date: string) => {
    if (date >= shanghaiDate(now)) return null
    let bill = otherBills.get(date)
    if (!bill) otherBills.set(date, (bill = billLines(adapter, merchantId, date)))
    return bill
  }
  const billDay = { date: billDate, billOf }
  const orderOf = async (of: string, orderId: string) => {
    const order = await records.order(merchantId, orderId)
    if (!order) throw new Error(`order ${orderId} of ${of} not found`)
    return order
  }
  const paid = await records.paidThrough(merchantId, channel, day.from, day.to)
  const askPayment = async (payment: { id: string; orderId: string }) => adapter.queryPayment({ paymentId: payment.id, order: await orderOf(`payment ${payment.id}`, payment.orderId) })
  const refunded = await records.refundedThrough(merchantId, channel, day.from, day.to)
  const askRefund = async (refund: PaymentRefund) => adapter.queryRefund({ refundId: refund.id, order: await orderOf(`refund ${refund.id}`, refund.orderId), requestedAt: refund.createdAt })
  const discrepancies = [
    ...(await compareBill(merchantId, lines, records)),
    ...(await paymentsMissingFromBill(lines, paid, billDay, askPayment)),
    ...(await refundsMissingFromBill(lines, refunded, billDay, askRefund)),
  ]
  return { lines, discrepancies }
}

export interface DailyBillDeps {
  channel(name: ChannelName): PaymentChannel | undefined
  /** The merchants with credentials for the channel. */
  merchantsOf(channel: ChannelName): Promise<string[]>
  checks: SqlBillCheckStore
  records: BillRecords
  clock: Clock
  logger: Logger
  metrics?: Metrics
}

export interface DailyBillRun {
  matched: number
  discrepancies: number
  failed: number
}

/** One pass: every due check of the ready days, each claimed first. */
export async function checkDailyBills(deps: DailyBillDeps): Promise<DailyBillRun> {
  const run: DailyBillRun = { matched: 0, discrepancies: 0, failed: 0 }
  const billDates = readyBillDates(deps.clock.now())
  for (const channel of BILL_CHANNELS) {
    const adapter = deps.channel(channel)
    if (!adapter) continue
    const merchants = await deps.merchantsOf(channel)
    if (merchants.length === 0) continue
    for (const billDate of billDates) {
      const notDue = await deps.checks.notDue(channel, billDate, deps.clock.now())
      for (const merchantId of merchants) {
        if (notDue.has(merchantId)) continue
        const outcome = await checkOne(deps, adapter, merchantId, billDate)
        if (outcome) run[outcome]++
      }
    }
  }
  return run
}

/** Claims and runs one check; null when another node has it or it needs nothing now. */
async function checkOne(deps: DailyBillDeps, adapter: PaymentChannel, merchantId: string, billDate: string): Promise<keyof DailyBillRun | null> {
  const channel = adapter.name
  const now = deps.clock.now()
  const attempt = await deps.checks.claim(merchantId, channel, billDate, now, now + LEASE_MS)
  if (attempt === null) return null
  const about = { merchantId, channel, billDate, attempt }
  let outcome: keyof DailyBillRun
  try {
    const { lines, discrepancies: found } = await reconcileBill(adapter, merchantId, billDate, deps.records, deps.clock.now())
    await deps.checks.finish(merchantId, channel, billDate, attempt, { lines: lines.length, discrepancies: found.length, details: found.slice(0, DETAILS_KEPT) }, deps.clock.now())
    outcome = found.length > 0 ? 'discrepancies' : 'matched'
    if (found.length > 0) deps.logger.warn({ ...about, lines: lines.length, discrepancies: found.length, first: found[0] }, "the channel's bill disagrees with our payments")
    else deps.logger.info({ ...about, lines: lines.length }, "the channel's bill matches our payments")
  } catch (err) {
    const retryAt = attempt >= MAX_ATTEMPTS ? NEVER : deps.clock.now() + retryDelayMs(attempt)
    await deps.checks.fail(merchantId, channel, billDate, attempt, (err as Error).message, retryAt, deps.clock.now())
    outcome = 'failed'
    deps.logger.error({ ...about, err, retryAt: retryAt === NEVER ? null : new Date(retryAt).toISOString() }, 'the daily bill check failed')
  }
  deps.metrics?.inc(billChecksMetric, { channel, outcome })
  return outcome
}
