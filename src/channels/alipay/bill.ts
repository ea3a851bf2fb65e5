// Alipay's daily trade bill (业务明细): a zip of CSV files, GBK-encoded by Alipay (UTF-8 accepted too), with
// `#` comment lines around the table. Parsed into integer fen for reconciliation against our payments.
import { readZip } from '../zip-file.ts'
import { yuanToFen } from '../yuan.ts'

export interface AlipayBillRow {
  tradeNo: string
  /** Our payment id. */
  outTradeNo: string
  /** 交易 (payment) or 退款 (refund). */
  businessType: string
  subject: string
  createdAt: string
  finishedAt: string
  /** 订单金额（元） in fen (negative for refunds). */
  amount: number
  /** 商家实收（元） in fen. */
  received: number
  refundRequestNo: string
  serviceFee: number
}

export interface AlipayBill {
  file: string
  rows: AlipayBillRow[]
}

function decode(data: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(data)
  } catch {
    return new TextDecoder('gbk').decode(data)
  }
}

function fen(text: string | undefined, what: string): number {
  const v = yuanToFen(text ?? '')
  if (v === null) throw new Error(`Alipay bill: ${what} ${JSON.stringify(text)} is not an amount`)
  return v
}

/**
 * The records of a CSV text by RFC 4180: a quoted field may hold commas, line breaks and doubled quotes, so a
 * product name with a comma stays one field. A line beginning with `#` is one of Alipay's comments; blank lines
 * are skipped.
 */
export function csvRecords(text: string): string[][] {
  const records: string[][] = []
  const n = text.length
  let i = 0
  while (i < n) {
    if (text[i] === '#') {
      const end = text.indexOf('\n', i)
      i = end < 0 ? n : end + 1
      continue
    }
    const fields: string[] = []
    for (;;) {
      let field = ''
      if (text[i] === '"') {
        for (i++; ; i++) {
          if (i >= n) throw new Error('Alipay bill: a quoted field is not closed')
          if (text[i] === '"') {
            if (text[i + 1] !== '"') break
            i++
          }
          field += text[i]
        }
        i++
      }
      // Unquoted text, or what follows a closing quote up to the separator (kept, as lenient readers do).
      while (i < n && text[i] !== ',' && text[i] !== '\r' && text[i] !== '\n') field += text[i++]
      fields.push(field)
      if (text[i] === ',') {
        i++
        continue
      }
      if (text[i] === '\r') i++
      if (text[i] === '\n') i++
      break
    }
    if (fields.some((f) => f.trim() !== '')) records.push(fields)
  }
  return records
}

/** Parses the bill zip (or a bare detail CSV). */
export function parseAlipayBill(file: Buffer): AlipayBill {
  let name = 'bill.csv'
  let csv: string
  if (file.readUInt32LE(0) === 0x04034b50) {
    const entries = readZip(file)
    const detail = entries.find((e) => e.name.includes('业务明细') && !e.name.includes('汇总')) ?? entries.find((e) => e.name.endsWith('.csv'))
    if (!detail) throw new Error('Alipay bill: no detail CSV in the archive')
    name = detail.name
    csv = decode(detail.data)
  } else {
    csv = decode(file)
  }
  const records = csvRecords(csv).map((fields) => fields.map((x) => x.trim()))
  const header = records[0] ?? []
  const col = (name: string) => {
    const i = header.indexOf(name)
    if (i < 0) throw new Error(`Alipay bill: no ${name} column`)
    return i
  }
  const ix = {
    tradeNo: col('支付宝交易号'), out: col('商户订单号'), type: col('业务类型'), subject: col('商品名称'), created: col('创建时间'),
    finished: col('完成时间'), amount: col('订单金额（元）'), received: col('商家实收（元）'), refundNo: col('退款批次号/请求号'), fee: col('服务费（元）'),
  }
  const rows = records.slice(1).map((c) => {
    return {
      tradeNo: c[ix.tradeNo]!, outTradeNo: c[ix.out]!, businessType: c[ix.type]!, subject: c[ix.subject]!, createdAt: c[ix.created]!,
      finishedAt: c[ix.finished]!, amount: fen(c[ix.amount], '订单金额'), received: fen(c[ix.received], '商家实收'), refundRequestNo: c[ix.refundNo] ?? '',
      serviceFee: fen(c[ix.fee], '服务费'),
    }
  })
  return { file: name, rows }
}
