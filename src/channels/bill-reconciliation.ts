// Reconciles a channel's daily bill against our records: every payment line must be a payment we recorded as
// succeeded (or refunded as unexpected), for the same amount and trade number; every refund line must be a refund
// we made, for the same amount, recorded as succeeded once the channel says it is. A refund made at the channel
// itself (in its merchant console, say) is one ScanPay never heard of: its order still reads paid, so it is flagged.
// And the other way round: every order we recorded as paid through the channel that day must be on the bill, and
// every refund we recorded as succeeded that day too.
import type { ChannelPaymentState, ChannelRefundState } from '../core/payment-channel.ts'
import type { Order } from '../core/order.ts'
import type { OrderPayment, Payment, PaymentRefund } from '../core/ports.ts'
import type { Refund } from '../core/refund.ts'
import { unexpectedRefundId } from '../core/use-cases/channel-payment-deps.ts'
import { needsPerson } from '../core/use-cases/unexpected-refunds.ts'
import { shanghaiDate } from './shanghai-time.ts'

export interface BillPaymentLine {
  kind: 'payment'
  /** Our payment id (the channel's out_trade_no). */
  outTradeNo: string
  channelTradeNo: string
  /** Fen. */
  amount: number
}

export interface BillRefundLine {
  kind: 'refund'
  /** The refund's number at the channel (WeChat's out_refund_no, Alipay's out_request_no): our refund id when we made it. */
  refundNo: string
  /** The payment it gives back. */
  outTradeNo: string
  channelTradeNo: string
  /** Fen, positive. */
  amount: number
  /**
   * How the channel says it went: succeeded; processing (WeChat's PROCESSING: still being paid back, it need not be
   * settled with us yet); failed (closed or abnormal: no money went back).
   */
  state: 'succeeded' | 'processing' | 'failed'
}

export type BillLine = BillPaymentLine | BillRefundLine

/** What a bill line disagrees with; orderId: the order of our payment, for the merchant to look at. */
export type LineDiscrepancy =
  | { kind: 'unknown_payment'; line: BillPaymentLine }
  | { kind: 'not_recorded_as_paid'; line: BillPaymentLine; orderId: string; status: Payment['status'] }
  | { kind: 'amount_mismatch'; line: BillPaymentLine; orderId: string; ours: number }
  | { kind: 'trade_no_mismatch'; line: BillPaymentLine; orderId: string; ours: string | null }
  /** A refund ScanPay did not make; orderId when the payment it gives back is ours. */
  | { kind: 'unknown_refund'; line: BillRefundLine; orderId: string | null }
  | { kind: 'refund_not_recorded_as_succeeded'; line: BillRefundLine; orderId: string; refundId: string; status: string }
  /** The channel says no money went back; we say it did. */
  | { kind: 'refund_recorded_as_succeeded'; line: BillRefundLine; orderId: string; refundId: string; status: string }
  | { kind: 'refund_amount_mismatch'; line: BillRefundLine; orderId: string; refundId: string; ours: number }

/**
 * An order we recorded as paid that day that the bill does not list, and what the channel, asked, says of it.
 * datedOn: the Beijing day the channel dates its payment on, when not the bill's; that day's bill lacks it too.
 */
export interface MissingFromBill {
  kind: 'missing_from_bill'
  payment: OrderPayment
  orderId: string
  channelStatus: ChannelPaymentState['status']
  datedOn?: string
}

/** A refund we recorded as succeeded that day that the bill does not list, and the same of it. */
export interface RefundMissingFromBill {
  kind: 'refund_missing_from_bill'
  refund: PaymentRefund
  orderId: string
  channelStatus: ChannelRefundState['status']
  datedOn?: string
}

/**
 * The Beijing day a bill is of, and the lines of the channel's bill of another day (null when that day's bill is
 * not out yet), for what the channel dates on another day.
 */
export interface BillDay {
  date: string
  billOf(date: string): Promise<BillLine[] | null>
}

export type BillDiscrepancy = LineDiscrepancy | MissingFromBill | RefundMissingFromBill

/** Our records a bill is compared with. */
export interface BillRecords {
  payment(id: string): Promise<Payment | null>
  /** The merchant's live-mode refund (channels pay live orders only). */
  refund(merchantId: string, id: string): Promise<Refund | null>
  /** The payments of the merchant's orders paid through the channel from `from` until before `to`. */
  paidThrough(merchantId: string, channel: 'wechatpay' | 'alipay', from: number, to: number): Promise<OrderPayment[]>
  /** The merchant's live refunds through the channel that succeeded from `from` until before `to`. */
  refundedThrough(merchantId: string, channel: 'wechatpay' | 'alipay', from: number, to: number): Promise<PaymentRefund[]>
  /** The merchant's live order, to ask the channel about its payment or refund. */
  order(merchantId: string, id: string): Promise<Order | null>
}

const SETTLED: readonly Payment['status'][] = ['succeeded', 'refund_requested', 'refunded']

/**
 * The merchant's bill against its own records: a line naming another merchant's payment is one we have no record
 * of for this merchant (and says nothing of the other's, whose order and amount this merchant may then be shown).
 */
export async function compareBill(merchantId: string, lines: BillLine[], records: Pick<BillRecords, 'payment' | 'refund'>): Promise<LineDiscrepancy[]> {
  const givenBack = givenBackByPayment(lines)
  const out: LineDiscrepancy[] = []
  for (const line of lines) {
    const found = await records.payment(line.outTradeNo)
    const p = found?.merchantId === merchantId ? found : null
    const d = line.kind === 'payment' ? comparePayment(line, p) : await compareRefund(merchantId, line, p, records, givenBack.get(line.outTradeNo) ?? 0)
    if (d) out.push(d)
  }
  return out
}

/** What the bill's refund lines give back of each payment, those the channel closed left out (no money moved). */
function givenBackByPayment(lines: BillLine[]): Map<string, number> {
  const sums = new Map<string, number>()
  for (const l of lines) if (l.kind === 'refund' && l.state !== 'failed') sums.set(l.outTradeNo, (sums.get(l.outTradeNo) ?? 0) + l.amount)
  return sums
}

function comparePayment(line: BillPaymentLine, p: Payment | null): LineDiscrepancy | null {
  if (!p) return { kind: 'unknown_payment', line }
  if (!SETTLED.includes(p.status)) return { kind: 'not_recorded_as_paid', line, orderId: p.orderId, status: p.status }
  if (p.amount !== line.amount) return { kind: 'amount_mismatch', line, orderId: p.orderId, ours: p.amount }
  if (p.channelTradeNo !== line.channelTradeNo) return { kind: 'trade_no_mismatch', line, orderId: p.orderId, ours: p.channelTradeNo }
  return null
}

/** givenBack: what all of the bill's refund lines of the payment give back (givenBackByPayment). */
async function compareRefund(merchantId: string, line: BillRefundLine, p: Payment | null, records: Pick<BillRecords, 'refund'>, givenBack: number): Promise<LineDiscrepancy | null> {
  if (!p) return { kind: 'unknown_refund', line, orderId: null }
  // An unexpected payment is given back whole: by ScanPay, under an id derived from its own, or, once the channel
  // refused that, by a person in the channel's console under the console's number (then recorded with `scanpay
  // unexpected resolve`), in one refund or in several. Either way its payment row says how it went; no refund of
  // ours is made of it. So the lines giving it back must add up to it (parts given back on other days than this
  // bill's are flagged here: the bill shows only its day).
  if (p.unexpected) {
    const refundId = unexpectedRefundId(p.id)
    if (p.amount !== (line.state === 'failed' ? line.amount : givenBack)) return { kind: 'refund_amount_mismatch', line, orderId: p.orderId, refundId, ours: p.amount }
    // Still being paid back at the channel: ours may be followed or done, never held refused for a person.
    if (line.state === 'succeeded' ? p.status !== 'refunded' : line.state === 'processing' && needsPerson(p)) return { kind: 'refund_not_recorded_as_succeeded', line, orderId: p.orderId, refundId, status: p.status }
    if (line.state === 'failed' && p.status === 'refunded') return { kind: 'refund_recorded_as_succeeded', line, orderId: p.orderId, refundId, status: p.status }
    return null
  }
  const r = await records.refund(merchantId, line.refundNo)
  if (!r || r.orderId !== p.orderId) return { kind: 'unknown_refund', line, orderId: p.orderId }
  if (r.amount !== line.amount) return { kind: 'refund_amount_mismatch', line, orderId: p.orderId, refundId: r.id, ours: r.amount }
  // Still being paid back at the channel: ours may read pending or succeeded, never failed.
  if (line.state === 'succeeded' ? r.status !== 'succeeded' : line.state === 'processing' && r.status === 'failed') return { kind: 'refund_not_recorded_as_succeeded', line, orderId: p.orderId, refundId: r.id, status: r.status }
  // Closed or abnormal at the channel: ours may read pending (the channel's answer not yet applied) or failed.
  if (line.state === 'failed' && r.status === 'succeeded') return { kind: 'refund_recorded_as_succeeded', line, orderId: p.orderId, refundId: r.id, status: r.status }
  return null
}

/**
 * Our side against the bill: each payment of an order we recorded as paid during the bill's day must be one of its
 * payment lines. The day is read off the order's paidAt, the channel's own time of payment, which dates its bill line
 * too; but where the channel gave none, or one ahead of our clock, paidAt is ours, and near midnight that may fall a
 * day apart. So a payment missing from the bill is asked about (`ask`, the channel's query): one the channel says was
 * paid on another day must be on that day's bill instead; any other answer is flagged with what it says. A failed
 * question fails the check (tried again later): a payment is never taken as missing unasked.
 */
export async function paymentsMissingFromBill(
  lines: BillLine[],
  recorded: OrderPayment[],
  day: BillDay,
  ask: (payment: OrderPayment) => Promise<ChannelPaymentState>,
): Promise<MissingFromBill[]> {
  const listedIn = (bill: BillLine[]) => new Set(bill.filter((l) => l.kind === 'payment').map((l) => l.outTradeNo))
  const paidAt = (said: ChannelPaymentState) => (said.status === 'succeeded' ? said.paidAt : undefined)
  const missing = await missingFromBills(listedIn, lines, recorded, day, ask, paidAt)
  return missing.map(({ item: payment, said, datedOn }) => ({ kind: 'missing_from_bill', payment, orderId: payment.orderId, channelStatus: said.status, ...(datedOn ? { datedOn } : {}) }))
}

/**
 * The same for refunds: each refund we recorded as succeeded during the bill's day must be one of its refund lines.
 * Our succeededAt is when we learned of it, which may be days after the channel's own date for it: a channel dates a
 * refund's line by its own rule (WeChat Pay by the day it was asked for, which for a refund to a bank card may be
 * days before it succeeds; Alipay by the day it was made). So a refund missing from the bill is asked about (`ask`,
 * the channel's refund query): one the channel says succeeded and dates on another day must be on that day's bill
 * instead; any other answer is flagged with what it says, and so is a success the channel does not date.
 */
export async function refundsMissingFromBill(
  lines: BillLine[],
  recorded: PaymentRefund[],
  day: BillDay,
  ask: (refund: PaymentRefund) => Promise<ChannelRefundState>,
): Promise<RefundMissingFromBill[]> {
  const listedIn = (bill: BillLine[]) => new Set(bill.filter((l) => l.kind === 'refund').map((l) => l.refundNo))
  const datedAt = (said: ChannelRefundState) => (said.status === 'succeeded' ? said.datedAt : undefined)
  const missing = await missingFromBills(listedIn, lines, recorded, day, ask, datedAt)
  return missing.map(({ item: refund, said, datedOn }) => ({ kind: 'refund_missing_from_bill', refund, orderId: refund.orderId, channelStatus: said.status, ...(datedOn ? { datedOn } : {}) }))
}

/**
 * Each recorded item the bill does not list, asked about, with the channel's answer. One whose answer dates it
 * (`datedAt`) on another day is looked for on that day's bill, and kept, with that day, only if it is not there
 * either; a day whose bill is not out yet (a clock ahead near midnight) is not looked at. Asked one at a time:
 * normally none is missing.
 */
async function missingFromBills<Item extends { id: string }, Said>(
  listedIn: (bill: BillLine[]) => ReadonlySet<string>,
  lines: BillLine[],
  recorded: Item[],
  day: BillDay,
  ask: (item: Item) => Promise<Said>,
  datedAt: (said: Said) => number | undefined,
): Promise<{ item: Item; said: Said; datedOn?: string }[]> {
  const listed = listedIn(lines)
  const out: { item: Item; said: Said; datedOn?: string }[] = []
  for (const item of recorded) {
    if (listed.has(item.id)) continue
    const said = await ask(item)
    const at = datedAt(said)
    const datedOn = at === undefined ? day.date : shanghaiDate(at)
    if (datedOn === day.date) {
      out.push({ item, said })
      continue
    }
    const other = await day.billOf(datedOn)
    if (other !== null && !listedIn(other).has(item.id)) out.push({ item, said, datedOn })
  }
  return out
}
