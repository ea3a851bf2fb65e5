// How orders, refunds and events look from outside: the contract's JSON shapes.
import type { DeliveryAttempt, StoredEvent } from '../core/events.ts'
import type { ListedOrder, Payment } from '../core/ports.ts'
import { effectiveStatus } from '../core/order.ts'
import type { Refund } from '../core/refund.ts'
import { AppError } from '../core/errors.ts'
import type { BillDiscrepancy } from '../channels/bill-reconciliation.ts'
import { NEVER, type BillCheck } from '../storage/bill-check-store.ts'

const DAY_MS = 86_400_000
/** 10000-01-01T00:00:00Z: from here on toISOString writes six-digit years. */
const ISO_END_MS = 253_402_300_800_000
const TWO_DIGITS = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'))
let isoDay = NaN
let isoDayPrefix = ''

/**
 * Date#toISOString, written out from the last day it saw: a page of 50 orders formats ~130 times and
 * toISOString took ~0.7 µs each, most of presenting the page. Anything unusual goes to toISOString itself.
 */
export function isoTime(ms: number): string {
  if (!(ms >= 0 && ms < ISO_END_MS && Number.isInteger(ms))) return new Date(ms).toISOString()
  const day = Math.floor(ms / DAY_MS)
  if (day !== isoDay) {
    isoDayPrefix = new Date(day * DAY_MS).toISOString().slice(0, 11)
    isoDay = day
  }
  let t = ms - day * DAY_MS
  const milli = t % 1000
  t = (t - milli) / 1000
  const sec = t % 60
  t = (t - sec) / 60
  const min = t % 60
  const hour = (t - min) / 60
  return `${isoDayPrefix}${TWO_DIGITS[hour]}:${TWO_DIGITS[min]}:${TWO_DIGITS[sec]}.${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`
}

const iso = (ms: number | null) => (ms === null ? null : isoTime(ms))

export function payUrl(publicUrl: string, token: string): string {
  return `${publicUrl}/pay/${token}`
}

/**
 * The order object. Given the time, a pending order past its deadline reads `expired`, as the checkout and
 * every move already treat it, rather than `pending` until the expiry job writes it (within a second); events
 * carry the order as it was written (no time given).
 */
export function presentOrder(publicUrl: string, o: ListedOrder, nowMs?: number) {
  const url = payUrl(publicUrl, o.payToken)
  return {
    id: o.id,
    object: 'order' as const,
    mode: o.mode,
    status: nowMs === undefined ? o.status : effectiveStatus(o, nowMs),
    out_trade_no: o.outTradeNo,
    amount: o.amount,
    amount_refunded: o.amountRefunded,
    currency: o.currency,
    subject: o.subject,
    description: o.description,
    metadata: o.metadata,
    pay_url: url,
    qr_code: { content: url, svg_url: `${url}/qr.svg`, png_url: `${url}/qr.png` },
    channel: o.channel,
    channel_trade_no: o.channelTradeNo,
    notify_url: o.notifyUrl,
    return_url: o.returnUrl,
    created_at: iso(o.createdAt)!,
    expires_at: iso(o.expiresAt)!,
    paid_at: iso(o.paidAt),
    closed_at: iso(o.closedAt),
  }
}

export function presentRefund(r: Refund) {
  return {
    id: r.id,
    object: 'refund' as const,
    order_id: r.orderId,
    amount: r.amount,
    currency: r.currency,
    status: r.status,
    out_refund_no: r.outRefundNo,
    reason: r.reason,
    failure_reason: r.failureReason,
    created_at: iso(r.createdAt)!,
    succeeded_at: iso(r.succeededAt),
  }
}

/**
 * A channel attempt, for the operator's commands (the merchant API shows payments only through their order): its
 * channel's trade number, whether it came after the order stopped taking money, and why a refund of it was refused.
 */
export function presentPayment(p: Payment) {
  return {
    id: p.id,
    merchant_id: p.merchantId,
    order_id: p.orderId,
    channel: p.channel,
    status: p.status,
    channel_trade_no: p.channelTradeNo,
    amount: p.amount,
    currency: p.currency,
    unexpected: p.unexpected,
    created_at: isoTime(p.createdAt),
    updated_at: isoTime(p.updatedAt),
    next_check_at: iso(p.nextCheckAt ?? null),
    refund_refused_reason: p.refundRefusedReason ?? null,
  }
}

export function presentEvent(e: StoredEvent, attempts: DeliveryAttempt[]) {
  return {
    id: e.id,
    object: 'event' as const,
    type: e.type,
    order_id: e.orderId,
    created_at: iso(e.createdAt)!,
    data: e.data,
    delivery_status: e.deliveryStatus,
    attempts: attempts.map((a) => ({ at: iso(a.at)!, status_code: a.statusCode, latency_ms: a.latencyMs, error: a.error })),
  }
}

export function presentBillCheck(c: BillCheck) {
  return {
    object: 'bill_check' as const,
    channel: c.channel,
    bill_date: c.billDate,
    status: c.status,
    attempts: c.attempts,
    lines: c.lines,
    discrepancies: c.discrepancies,
    discrepancy_details: ((c.details ?? []) as BillDiscrepancy[]).map(presentDiscrepancy),
    last_error: c.lastError,
    // Only a failed check waits for another attempt; one given up on (NEVER) waits for nothing.
    next_attempt_at: c.status === 'failed' && c.nextAttemptAt !== NEVER ? iso(c.nextAttemptAt) : null,
    updated_at: iso(c.updatedAt)!,
  }
}

export function presentDiscrepancy(d: BillDiscrepancy) {
  if (d.kind === 'missing_from_bill') {
    const p = d.payment
    return {
      ...NO_DISCREPANCY_DETAILS,
      kind: d.kind,
      payment_id: p.id,
      order_id: d.orderId,
      channel_trade_no: p.channelTradeNo,
      amount: p.amount,
      paid_at: iso(p.paidAt),
      refund_succeeded_at: null,
      channel_status: d.channelStatus,
      channel_bill_date: d.datedOn ?? null,
    }
  }
  if (d.kind === 'refund_missing_from_bill') {
    const r = d.refund
    return {
      ...NO_DISCREPANCY_DETAILS,
      kind: d.kind,
      payment_id: r.paymentId,
      order_id: d.orderId,
      channel_trade_no: r.channelTradeNo,
      amount: r.amount,
      refund_id: r.id,
      paid_at: null,
      refund_succeeded_at: iso(r.succeededAt),
      channel_status: d.channelStatus,
      channel_bill_date: d.datedOn ?? null,
    }
  }
  const refund = d.line.kind === 'refund' ? d.line : null
  return {
    kind: d.kind,
    payment_id: d.line.outTradeNo,
    // Checks stored before discrepancies named their order have none.
    order_id: d.kind === 'unknown_payment' ? null : (d.orderId ?? null),
    channel_trade_no: d.line.channelTradeNo,
    amount: d.line.amount,
    refund_no: refund?.refundNo ?? null,
    refund_id: 'refundId' in d ? d.refundId : null,
    our_amount: d.kind === 'amount_mismatch' || d.kind === 'refund_amount_mismatch' ? d.ours : null,
    our_channel_trade_no: d.kind === 'trade_no_mismatch' ? d.ours : null,
    our_payment_status: d.kind === 'not_recorded_as_paid' ? d.status : null,
    our_refund_status: d.kind === 'refund_not_recorded_as_succeeded' || d.kind === 'refund_recorded_as_succeeded' ? d.status : null,
    paid_at: null,
    refund_succeeded_at: null,
    channel_status: null,
    channel_bill_date: null,
  }
}

/** The fields a payment or refund missing from the bill has no value for. */
const NO_DISCREPANCY_DETAILS = { refund_no: null, refund_id: null, our_amount: null, our_channel_trade_no: null, our_payment_status: null, our_refund_status: null }

/** Opaque keyset cursor: the (created_at, id) of the last row of a page. */
export function encodeCursor(createdAt: number, id: string): string {
  return Buffer.from(`${createdAt}:${id}`, 'utf8').toString('base64url')
}

export function decodeCursor(cursor: string): { createdAt: number; id: string } | null {
  const text = Buffer.from(cursor, 'base64url').toString('utf8')
  const m = /^(\d{1,16}):([a-z]{3}_[0-9a-z]{26})$/.exec(text)
  return m ? { createdAt: Number(m[1]), id: m[2]! } : null
}

/** The `cursor` query parameter as a keyset position; a cursor we did not issue is a 400. */
export function cursorParam(value: string | undefined): { createdAt: number; id: string } | undefined {
  if (value === undefined) return undefined
  const c = decodeCursor(value)
  if (!c) throw new AppError('cursor_invalid', 'cursor must be a next_cursor returned by a previous page', 'cursor')
  return c
}

/** Turns `limit + 1` rows, fetched newest first, into the contract's list object. */
export async function presentList<T extends { createdAt: number; id: string }, R>(
  rows: T[],
  limit: number,
  present: (row: T) => R | Promise<R>,
) {
  const page = rows.slice(0, limit)
  const last = page[page.length - 1]
  const hasMore = rows.length > limit
  return {
    object: 'list' as const,
    data: await Promise.all(page.map(present)),
    has_more: hasMore,
    next_cursor: hasMore && last ? encodeCursor(last.createdAt, last.id) : null,
  }
}
