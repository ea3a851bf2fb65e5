// scanpay unexpected list|retry|resolve: the operator's side of payments that arrived after their order stopped
// taking money. ScanPay refunds them on its own; these are for the ones the channel refused to refund.
import type { Config } from '../../config/config.ts'
import type { AppContext } from '../../context.ts'
import { runOnContext, type Print } from './on-context.ts'
import { formatMinor } from '../../core/money.ts'
import { presentPayment } from '../../http/presenters.ts'
import type { Payment } from '../../core/ports.ts'
import { needsPerson, recordUnexpectedRefundByHand, retryUnexpectedRefund, type UnexpectedRefundAction } from '../../core/use-cases/unexpected-refunds.ts'

export const UNEXPECTED_USAGE = `usage:
  scanpay unexpected list [--merchant mch_…] [--json]   (payments still to be given back; exit 3 when one waits for a person)
  scanpay unexpected retry pay_…     (asks the channel to refund it again, once its refusal's cause is fixed)
  scanpay unexpected resolve pay_… [--force]   (records that it was refunded by hand in the channel's merchant console,
    once the channel bears that out; --force: the money went back outside the channel, recorded without asking it)`

export interface UnexpectedOptions {
  action?: string
  paymentId?: string
  merchant?: string
  json: boolean
  /** resolve: record it without asking the channel (the money went back outside it). */
  force?: boolean
}

export async function runUnexpected(config: Config, opts: UnexpectedOptions): Promise<number> {
  if (!valid(opts)) {
    console.error(UNEXPECTED_USAGE)
    return 2
  }
  return runOnContext(config, (ctx, print) => unexpectedCommand(ctx, opts, print))
}

function valid(opts: UnexpectedOptions): boolean {
  if (opts.force && opts.action !== 'resolve') return false
  if (opts.action === 'list') return opts.paymentId === undefined
  return (opts.action === 'retry' || opts.action === 'resolve') && opts.paymentId !== undefined && opts.merchant === undefined
}

/**
 * The command on a context; prints through `print`. Exit 0 when done, 3 when money still waits for a person,
 * 1 when the payment named cannot be acted on.
 */
export async function unexpectedCommand(
  ctx: Pick<AppContext, 'storage' | 'channelDeps'>,
  opts: UnexpectedOptions,
  print: Print,
): Promise<number> {
  if (!valid(opts)) {
    print(UNEXPECTED_USAGE, true)
    return 2
  }
  if (opts.action === 'list') {
    // A mistyped id must not read as "nothing to do".
    if (opts.merchant !== undefined && !(await ctx.storage.merchants.byId(opts.merchant))) {
      print(`no merchant ${opts.merchant}`, true)
      return 2
    }
    const payments = await ctx.storage.statement((w) => w.payments.awaitingRefund({ merchantId: opts.merchant, limit: 1000 }))
    if (opts.json) print(JSON.stringify({ payments: payments.map((p) => ({ ...presentPayment(p), needs_person: needsPerson(p) })) }))
    else if (payments.length === 0) print('no unexpected payment is waiting for its refund')
    else for (const p of payments) print(describe(p))
    return payments.some(needsPerson) ? 3 : 0
  }
  const done = opts.action === 'retry'
    ? await retryUnexpectedRefund(ctx.channelDeps, opts.paymentId!)
    : await recordUnexpectedRefundByHand(ctx.channelDeps, opts.paymentId!, { outsideChannel: opts.force })
  print(outcome(done, opts.action === 'resolve'), done.result === 'not_possible')
  return done.result === 'not_possible' ? 1 : done.result === 'refused' ? 3 : 0
}

function describe(p: Payment): string {
  const state = needsPerson(p)
    ? `WAITS FOR A PERSON: no automatic refund follows (${p.refundRefusedReason ? `refused: ${p.refundRefusedReason}` : 'the channel refused it; the server log says why'})`
    : `being refunded (next check ${new Date(p.nextCheckAt!).toISOString()})`
  return `${p.id} ${p.merchantId} order ${p.orderId}: ${formatMinor(p.amount, p.currency)} ${p.currency} through ${p.channel} (${p.channelTradeNo}), ${state}`
}

function outcome(done: UnexpectedRefundAction, byHand: boolean): string {
  switch (done.result) {
    case 'refunded':
      if (!byHand) return `${done.payment.id} refunded by ${done.payment.channel}`
      return `${done.payment.id} recorded as refunded by hand${done.caution ? `; but ${done.caution}` : ''}`
    case 'pending':
      return `${done.payment.id}: ${done.payment.channel} has not said the refund is done (it has the request and has not finished it, or could not be reached); ScanPay asks again on its own`
    case 'refused':
      return `${done.payment.id}: ${done.payment.channel} refused the refund again: ${done.reason}`
    case 'not_possible':
      return done.message
  }
}
