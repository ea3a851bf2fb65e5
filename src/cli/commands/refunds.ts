// scanpay refunds pending: the operator's list of live refunds still without their channel's final word, oldest
// first, for when ScanPayRefundStuck fires (operations.md). ScanPay keeps asking the channel on its own; a refund
// long pending usually waits for the merchant to act at the channel (WeChat Pay's ABNORMAL).
import type { Config } from '../../config/config.ts'
import type { AppContext } from '../../context.ts'
import { runOnContext, type Print } from './on-context.ts'
import { formatMinor } from '../../core/money.ts'
import type { Refund } from '../../core/refund.ts'

export const REFUNDS_USAGE = `usage:
  scanpay refunds pending [--merchant mch_…] [--json]   (live refunds the channel has not finished, oldest first)`

/** The most listed at once (the oldest first); more are said to be there. */
const LIMIT = 1000

export interface RefundsOptions {
  action?: string
  extra?: string
  merchant?: string
  json: boolean
}

export async function runRefunds(config: Config, opts: RefundsOptions): Promise<number> {
  if (opts.action !== 'pending' || opts.extra !== undefined) {
    console.error(REFUNDS_USAGE)
    return 2
  }
  return runOnContext(config, (ctx, print) => pendingRefundsCommand(ctx, opts, print))
}

/** Prints the pending refunds through `print`; exit 0, or 2 for a merchant that does not exist. */
export async function pendingRefundsCommand(ctx: Pick<AppContext, 'storage' | 'clock'>, opts: RefundsOptions, print: Print): Promise<number> {
  // A mistyped id must not read as "nothing pending".
  if (opts.merchant !== undefined && !(await ctx.storage.merchants.byId(opts.merchant))) {
    print(`no merchant ${opts.merchant}`, true)
    return 2
  }
  const refunds = await ctx.storage.refunds.pendingList({ merchantId: opts.merchant, limit: LIMIT + 1 })
  const more = refunds.length > LIMIT
  if (more) refunds.pop()
  if (opts.json) print(JSON.stringify({ refunds: refunds.map(listed), has_more: more }))
  else if (refunds.length === 0) print('no live refund is waiting for its channel')
  else for (const r of refunds) print(describe(r, ctx.clock.now()))
  if (more && !opts.json) print(`… and more: these are the oldest ${LIMIT}`)
  return 0
}

function listed(r: Refund) {
  return {
    id: r.id,
    merchant_id: r.merchantId,
    order_id: r.orderId,
    out_refund_no: r.outRefundNo,
    channel: r.channel,
    amount: r.amount,
    currency: r.currency,
    created_at: new Date(r.createdAt).toISOString(),
    checks: r.checkCount,
    next_check_at: new Date(r.nextCheckAt).toISOString(),
  }
}

function describe(r: Refund, now: number): string {
  const hours = Math.floor((now - r.createdAt) / 3_600_000)
  const age = hours >= 48 ? `${Math.floor(hours / 24)} days` : hours >= 1 ? `${hours} h` : 'under an hour'
  return `${r.id} ${r.merchantId} order ${r.orderId} (${r.outRefundNo}): ${formatMinor(r.amount, r.currency)} ${r.currency} through ${r.channel}, pending ${age} (since ${new Date(r.createdAt).toISOString()}), asked ${r.checkCount} times, next ${new Date(r.nextCheckAt).toISOString()}`
}
