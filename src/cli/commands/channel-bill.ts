// scanpay channel bill --merchant mch_… wechatpay|alipay --date yyyy-MM-dd: downloads the channel's bill of a
// Beijing day and reconciles it against our payments, printing every discrepancy (exit 3 when there are any).
import type { Config } from '../../config/config.ts'
import { compareBill, type BillLine } from '../../channels/bill-reconciliation.ts'
import { createContext } from '../../context.ts'
import { AlipayChannel } from '../../channels/alipay/alipay-channel.ts'
import { WechatPayChannel } from '../../channels/wechat-pay/wechat-pay-channel.ts'

export async function runChannelBill(config: Config, opts: { merchant?: string; channel?: string; date?: string; json: boolean }): Promise<number> {
  if ((opts.channel !== 'wechatpay' && opts.channel !== 'alipay') || !opts.merchant || !opts.date || !/^\d{4}-\d{2}-\d{2}$/.test(opts.date)) {
    console.error('usage: scanpay channel bill --merchant mch_… wechatpay|alipay --date yyyy-MM-dd [--json]')
    return 2
  }
  const ctx = await createContext(config)
  try {
    const adapter = ctx.channels.get(opts.channel)
    let lines: BillLine[]
    if (adapter instanceof WechatPayChannel) {
      const bill = await adapter.downloadTradeBill(opts.merchant, opts.date)
      lines = bill.rows.filter((r) => r.tradeState === 'SUCCESS' || r.tradeState === 'REFUND').map((r) => ({ outTradeNo: r.outTradeNo, channelTradeNo: r.transactionId, amount: r.amount }))
    } else if (adapter instanceof AlipayChannel) {
      const bill = await adapter.downloadBill(opts.merchant, opts.date)
      lines = bill.rows.filter((r) => r.businessType === '交易').map((r) => ({ outTradeNo: r.outTradeNo, channelTradeNo: r.tradeNo, amount: r.amount }))
    } else {
      console.error(`the ${opts.channel} channel is not available`)
      return 2
    }
    const found = await compareBill(lines, (id) => ctx.storage.statement((w) => w.payments.byId(id)))
    if (opts.json) process.stdout.write(JSON.stringify({ lines: lines.length, discrepancies: found }) + '\n')
    else {
      console.log(`${opts.channel} bill of ${opts.date} for ${opts.merchant}: ${lines.length} settled payments, ${found.length} discrepancies`)
      for (const d of found) console.log(`  ${d.kind}: ${d.line.outTradeNo} (${d.line.channelTradeNo}, ${d.line.amount} fen)`)
    }
    return found.length === 0 ? 0 : 3
  } finally {
    await ctx.close()
  }
}
