// WeChat Pay's daily trade bill (交易账单, tradebill): a CSV whose every field is prefixed with a backtick,
// then a totals section. Parsed into integer fen for reconciliation against our payments.
import { yuanToFen } from '../yuan.ts'

export interface TradeBillRow {
  /** Beijing time as written, `yyyy-MM-dd HH:mm:ss`. */
  tradeTime: string
  appid: string
  mchid: string
  transactionId: string
  /** Our payment id. */
  outTradeNo: string
  tradeType: string
  tradeState: string
  currency: string
  /** 应结订单金额 in fen: what is settled, after vouchers; 0 on a refund line. */
  amount: number
  /** 订单金额 in fen: the order's total, what we asked for; 0 on a refund line. */
  orderAmount: number
  /** 退款金额 in fen: what is settled back, after vouchers. */
  refundAmount: number
  /** 申请退款金额 in fen: the refund's amount as asked for. */
  requestedRefundAmount: number
  /** Our refund id on a refund line (商户退款单号); '' on a payment line. */
  outRefundNo: string
  /** On a refund line: SUCCESS, PROCESSING, …; '' on a payment line. */
  refundState: string
  fee: number
}

export interface TradeBill {
  rows: TradeBillRow[]
  summary: { count: number; settledTotal: number; refundTotal: number; feeTotal: number }
}

/**
 * A line's fields. A data line's fields each begin with a backtick, so they are split at `,` + backtick: a
 * comma inside one (a product description such as "Latte, large") stays in it. Header lines have none.
 */
function cells(line: string): string[] {
  if (!line.startsWith('`')) return line.split(',').map((c) => c.trim())
  return line.slice(1).split(',`').map((c) => c.trim())
}

function fen(text: string | undefined, what: string): number {
  const v = yuanToFen(text ?? '')
  if (v === null) throw new Error(`tradebill: ${what} ${JSON.stringify(text)} is not an amount`)
  return v
}

export function parseTradeBill(text: string): TradeBill {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/).filter((l) => l.trim() !== '')
  const header = cells(lines[0] ?? '')
  const col = (name: string) => {
    const i = header.indexOf(name)
    if (i < 0) throw new Error(`tradebill: no ${name} column`)
    return i
  }
  const ix = {
    time: col('交易时间'), appid: col('公众账号ID'), mchid: col('商户号'), tx: col('微信订单号'), out: col('商户订单号'),
    type: col('交易类型'), state: col('交易状态'), currency: col('货币种类'), amount: col('应结订单金额'),
    refund: col('退款金额'), outRefund: col('商户退款单号'), refundState: col('退款状态'), fee: col('手续费'),
    orderAmount: col('订单金额'), requestedRefund: col('申请退款金额'),
  }
  const rows: TradeBillRow[] = []
  let i = 1
  for (; i < lines.length && !lines[i]!.startsWith('总交易单数'); i++) {
    const c = cells(lines[i]!)
    // A field holding comma-backtick itself would shift the rest: said plainly rather than misread.
    if (c.length !== header.length) throw new Error(`tradebill: line ${i + 1} has ${c.length} fields, the header ${header.length}`)
    rows.push({
      tradeTime: c[ix.time]!, appid: c[ix.appid]!, mchid: c[ix.mchid]!, transactionId: c[ix.tx]!, outTradeNo: c[ix.out]!,
      tradeType: c[ix.type]!, tradeState: c[ix.state]!, currency: c[ix.currency]!, amount: fen(c[ix.amount], '应结订单金额'),
      orderAmount: fen(c[ix.orderAmount], '订单金额'), refundAmount: fen(c[ix.refund], '退款金额'),
      requestedRefundAmount: fen(c[ix.requestedRefund], '申请退款金额'), outRefundNo: c[ix.outRefund] === '0' ? '' : c[ix.outRefund]!,
      refundState: c[ix.refundState]!, fee: fen(c[ix.fee], '手续费'),
    })
  }
  const sumHeader = cells(lines[i] ?? '')
  const sum = cells(lines[i + 1] ?? '')
  const at = (name: string) => sum[sumHeader.indexOf(name)]
  const count = Number(at('总交易单数'))
  if (!Number.isInteger(count)) throw new Error('tradebill: the totals section is missing')
  const summary = { count, settledTotal: fen(at('应结订单总金额'), '应结订单总金额'), refundTotal: fen(at('退款总金额'), '退款总金额'), feeTotal: fen(at('手续费总金额'), '手续费总金额') }
  if (summary.count !== rows.length) throw new Error(`tradebill: ${rows.length} rows but the totals say ${summary.count}`)
  return { rows, summary }
}
