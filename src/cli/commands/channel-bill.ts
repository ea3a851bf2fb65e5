// scanpay channel bill --merchant mch_… wechatpay|alipay --date yyyy-MM-dd: downloads the channel's bill of a
// Beijing day and reconciles it against our payments, printing every discrepancy (exit 3 when there are any).
// scanpay channel bill-checks [--merchant mch_…]: the outcomes of the daily checks the server runs itself.
import { shanghaiDate } from '../../channels/shanghai-time.ts'
import type { Config } from '../../config/config.ts'
import { isCalendarDate } from '../../core/calendar-date.ts'
import type { BillDiscrepancy } from '../../channels/bill-reconciliation.ts'
import { reconcileBill, storedBillRecords } from '../../channels/daily-bills.ts'
import { createCommandContext, type AppContext } from '../../context.ts'
import { presentBillCheck, presentDiscrepancy } from '../../http/presenters.ts'
import { NEVER, type BillCheck } from '../../storage/bill-check-store.ts'


export async function runChannelBill(config: Config, opts: { merchant?: string; channel?: string; date?: string; json: boolean }): Promise<number> {
  if ((opts.channel !== 'wechatpay' && opts.channel !== 'alipay') || !opts.merchant || !opts.date) {
    console.error('usage: scanpay channel bill --merchant mch_… wechatpay|alipay --date yyyy-MM-dd [--json]')
    return 2
  }
  if (!isCalendarDate(opts.date)) {
    console.error(`--date ${opts.date} is not a day: give a Beijing calendar date as yyyy-MM-dd, such as ${shanghaiDate(Date.now() - 86_400_000)}`)
    return 2
  }
  // A day's bill is made the next morning (Beijing time): today's, or a later day's, would read as empty.
  if (opts.date >= shanghaiDate(Date.now())) {
    console.error(`the bill of ${opts.date} is not out yet: a day's bill comes the next morning, Beijing time (today there is ${shanghaiDate(Date.now())})`)
    return 2
  }
  const ctx = await createCommandContext(config)
  try {
    if (!(await knownMerchant(ctx, opts.merchant))) return 2
    const adapter = ctx.channels.get(opts.channel)
    if (!adapter) {
      console.error(`the ${opts.channel} channel is not available`)
      return 2
    }
    const { lines, discrepancies: found } = await reconcileBill(adapter, opts.merchant, opts.date, storedBillRecords(ctx.storage), Date.now())
    // The API's shapes (GET /v1/bill_checks), as every other command's --json.
    if (opts.json) process.stdout.write(JSON.stringify({ lines: lines.length, discrepancies: found.map(presentDiscrepancy) }) + '\n')
    else {
      const refunds = lines.filter((l) => l.kind === 'refund').length
      console.log(`${opts.channel} bill of ${opts.date} for ${opts.merchant}: ${count(lines.length - refunds, 'payment')}, ${count(refunds, 'refund')}, ${count(found.length, 'discrepancy', 'discrepancies')}`)
      found.forEach(printDiscrepancy)
    }
    return found.length === 0 ? 0 : 3
  } finally {
    await ctx.close()
  }
}

/** Lists the stored daily checks, newest day first; exit 3 when a listed one found discrepancies or gave up. */
export async function runChannelBillChecks(config: Config, opts: { merchant?: string; json: boolean }): Promise<number> {
  const ctx = await createCommandContext(config)
  try {
    // A mistyped id must not read as "nothing checked".
    if (opts.merchant !== undefined && !(await knownMerchant(ctx, opts.merchant))) return 2
    const checks = await ctx.storage.billChecks.list({ merchantId: opts.merchant, limit: 100 })
    if (opts.json) process.stdout.write(JSON.stringify({ checks: checks.map((c) => ({ merchant_id: c.merchantId, ...presentBillCheck(c) })) }) + '\n')
    else if (checks.length === 0) console.log('no daily bill has been checked yet (each is checked from 10:00 Beijing time the next day)')
    else {
      for (const c of checks) {
        console.log(`${c.billDate} ${c.channel} ${c.merchantId}: ${outcomeOf(c)}`)
        ;((c.details ?? []) as BillDiscrepancy[]).forEach(printDiscrepancy)
      }
    }
    return checks.some((c) => c.status === 'discrepancies' || (c.status === 'failed' && c.nextAttemptAt === NEVER)) ? 3 : 0
  } finally {
    await ctx.close()
  }
}

async function knownMerchant(ctx: AppContext, merchantId: string): Promise<boolean> {
  if (await ctx.storage.merchants.byId(merchantId)) return true
  console.error(`no merchant ${merchantId}`)
  return false
}

const count = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`

function outcomeOf(c: BillCheck): string {
  if (c.status === 'running') return 'being checked'
  if (c.status !== 'failed') return `${count(c.lines ?? 0, 'line')}, ${count(c.discrepancies ?? 0, 'discrepancy', 'discrepancies')}`
  const next = c.nextAttemptAt === NEVER ? ' (not retried)' : `; next attempt ${new Date(c.nextAttemptAt).toISOString()}`
  return `failed after ${c.attempts} attempt(s): ${c.lastError}${next}`
}

const onAnotherDay = (date: string | undefined) => (date ? `, of ${date}, whose bill lacks it too` : '')

function printDiscrepancy(d: BillDiscrepancy): void {
  if (d.kind === 'missing_from_bill') {
    const p = d.payment
    console.log(`  ${d.kind}: ${p.id} of order ${d.orderId} (${p.channelTradeNo ?? 'no channel trade number'}, ${p.amount} fen, paid ${new Date(p.paidAt).toISOString()}); the channel says ${d.channelStatus}${onAnotherDay(d.datedOn)}`)
    return
  }
  if (d.kind === 'refund_missing_from_bill') {
    const r = d.refund
    console.log(`  ${d.kind}: refund ${r.id} of ${r.paymentId}, order ${d.orderId} (${r.channelTradeNo ?? 'no channel trade number'}, ${r.amount} fen, succeeded ${new Date(r.succeededAt).toISOString()}); the channel says ${d.channelStatus}${onAnotherDay(d.datedOn)}`)
    return
  }
  const refundOf = d.line.kind === 'refund' ? `refund ${d.line.refundNo} of ` : ''
  console.log(`  ${d.kind}: ${refundOf}${d.line.outTradeNo} (${d.line.channelTradeNo}, ${d.line.amount} fen)`)
}
