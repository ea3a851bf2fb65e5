// scanpay channel bill --merchant mch_… wechatpay|alipay --date yyyy-MM-dd: downloads the channel's bill of a
// Beijing day and reconciles it against our payments, printing every discrepancy (exit 3 when there are any).
// scanpay channel bill-checks [--merchant mch_…]: the outcomes of the daily checks the server runs itself.
import { shanghaiDate } from '../../channels/shanghai-time.ts'
import type { Config } from '../../config/config.ts'
import type { BillDiscrepancy } from '../../channels/bill-reconciliation.ts'
import { reconcileBill, storedBillRecords } from '../../channels/daily-bills.ts'
import { createCommandContext } from '../../context.ts'
import { NEVER, type BillCheck } from '../../storage/bill-check-store.ts'

/** `yyyy-MM-dd` naming a day that exists: 2026-13-01 would be read as an empty bill, not refused, by a channel. */
function isCalendarDate(text: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(text) && !Number.isNaN(Date.parse(`${text}T00:00:00Z`)) && new Date(`${text}T00:00:00Z`).toISOString().startsWith(text)
}

export async function runChannelBill(config: Config, opts: { merchant?: string; channel?: string; date?: string; json: boolean }): Promise<number> {
  if ((opts.channel !== 'wechatpay' && opts.channel !== 'alipay') || !opts.merchant || !opts.date || !isCalendarDate(opts.date)) {
    console.error('usage: scanpay channel bill --merchant mch_… wechatpay|alipay --date yyyy-MM-dd [--json]')
    return 2
  }
  // A day's bill is made the next morning (Beijing time): today's, or a later day's, would read as empty.
  if (opts.date >= shanghaiDate(Date.now())) {
    console.error(`the bill of ${opts.date} is not out yet: a day's bill comes the next morning, Beijing time (today there is ${shanghaiDate(Date.now())})`)
    return 2
  }
  const ctx = await createCommandContext(config)
  try {
    const adapter = ctx.channels.get(opts.channel)
    if (!adapter) {
      console.error(`the ${opts.channel} channel is not available`)
      return 2
    }
    const { lines, discrepancies: found } = await reconcileBill(adapter, opts.merchant, opts.date, storedBillRecords(ctx.storage), Date.now())
    if (opts.json) process.stdout.write(JSON.stringify({ lines: lines.length, discrepancies: found }) + '\n')
    else {
      const refunds = lines.filter((l) => l.kind === 'refund').length
      console.log(`${opts.channel} bill of ${opts.date} for ${opts.merchant}: ${lines.length - refunds} payments, ${refunds} refunds, ${found.length} discrepancies`)
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
    const checks = await ctx.storage.billChecks.list({ merchantId: opts.merchant, limit: 100 })
    if (opts.json) process.stdout.write(JSON.stringify({ checks }) + '\n')
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

function outcomeOf(c: BillCheck): string {
  if (c.status === 'running') return 'being checked'
  if (c.status !== 'failed') return `${c.lines} lines, ${c.discrepancies} discrepancies`
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
